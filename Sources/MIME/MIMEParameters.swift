/// A parameter of Content-Type or Content-Disposition (`charset`, `boundary`, `filename`, …).
///
/// `name` and `value` are as the message wrote them after RFC 2231 continuations
/// (`name*0*=…; name*1*=…`) were joined — the form IMAP's BODYSTRUCTURE reports, matching
/// Dovecot. A joined extended value keeps its `charset'language'%XX` form and its name ends
/// in `*`; `decodedValue` turns it into text.
public struct MIMEParameter: Sendable, Equatable, Codable {
    public var name: [UInt8]
    public var value: [UInt8]

    public var nameString: String { name.lossyString }

    /// The name without a trailing `*` (RFC 2231 marker), lower-cased.
    public var baseName: String {
        var bytes = name
        if bytes.last == UInt8(ascii: "*") { bytes.removeLast() }
        return String(decoding: bytes.map(ASCII.lower), as: UTF8.self)
    }

    /// The value as text: RFC 2231 `charset'lang'%XX` decoded for extended parameters, RFC 2047
    /// encoded-words decoded for plain ones (many mailers put them in filenames).
    public var decodedValue: String {
        if name.last == UInt8(ascii: "*") { return RFC2231.decodeExtended(value) }
        return EncodedWords.decode(value)
    }
}

enum RFC2231 {
    private struct Segment {
        var key: [UInt8]
        var index: Int
        var extended: Bool
        var value: [UInt8]
    }

    /// Reads the parameters after the type (`; a=b; c="d"`), joining RFC 2231 continuations
    /// (§3) and keeping extended values encoded. Returns the parameters and whether any was
    /// broken. Plain parameters come first in their order, then joined ones sorted by name.
    static func parse(_ lexer: inout RFC822Lexer, limit: Int) -> (parameters: [MIMEParameter], broken: Bool) {
        var plain: [MIMEParameter] = []
        var segments: [Segment] = []
        var broken = false
        var count = 0
        while let (result, key, value) = lexer.contentParameter() {
            count += 1
            if count > limit { break }
            if result == .failed {
                broken = true
                if lexer.atEnd { break }
                lexer.position += 1
                continue
            }
            if let star = key.firstIndex(of: UInt8(ascii: "*")) {
                var cursor = star
                var index = 0
                if cursor + 1 < key.count {
                    cursor += 1
                    while cursor < key.count, key[cursor] >= 48, key[cursor] <= 57 {
                        index = min(index * 10 + Int(key[cursor] - 48), 1_000_000)
                        cursor += 1
                    }
                }
                var extended = false
                if cursor < key.count, key[cursor] == UInt8(ascii: "*") {
                    extended = true
                    cursor += 1
                }
                if cursor == key.count {
                    segments.append(Segment(key: Array(key[..<star]), index: index, extended: extended, value: value))
                    continue
                }
            }
            plain.append(MIMEParameter(name: key, value: value))
        }
        guard !segments.isEmpty else { return (plain, broken) }

        // Sort by name (byte order, as strcmp), then by index; stable for equal pairs.
        let ordered = segments.enumerated().sorted { lhs, rhs in
            if lhs.element.key != rhs.element.key { return lhs.element.key.lexicographicallyPrecedes(rhs.element.key) }
            if lhs.element.index != rhs.element.index { return lhs.element.index < rhs.element.index }
            return lhs.offset < rhs.offset
        }.map(\.element)

        var joined: [MIMEParameter] = []
        var start = 0
        while start < ordered.count {
            var next = start
            var complete = true
            var anyExtended = false
            var expected = 0
            // Compared as bytes: a key with invalid UTF-8 must still equal itself (a String
            // round trip would not, and the loop would never advance).
            while next < ordered.count, ASCII.equalBytesIgnoringCase(ordered[next].key, ordered[start].key) {
                if ordered[next].index != expected { complete = false }
                if ordered[next].extended { anyExtended = true }
                expected += 1
                next += 1
            }
            if !complete {
                // Missing indexes: report each piece under its own name.
                for segment in ordered[start..<next] {
                    var name = segment.key + Array("*\(segment.index)".utf8)
                    if segment.extended { name.append(UInt8(ascii: "*")) }
                    joined.append(MIMEParameter(name: name, value: segment.value))
                }
            } else {
                var value: [UInt8] = []
                if !ordered[start].extended && anyExtended { value.append(contentsOf: Array("''".utf8)) }
                for segment in ordered[start..<next] {
                    if !segment.extended && anyExtended {
                        for byte in segment.value {
                            if byte == UInt8(ascii: "%") { value.append(contentsOf: Array("%25".utf8)) } else { value.append(byte) }
                        }
                    } else {
                        value.append(contentsOf: segment.value)
                    }
                }
                var name = ordered[start].key
                if anyExtended { name.append(UInt8(ascii: "*")) }
                joined.append(MIMEParameter(name: name, value: value))
            }
            start = next
        }
        return (plain + joined, broken)
    }

    /// `charset'language'percent-encoded` → text (RFC 2231 §4).
    static func decodeExtended(_ value: [UInt8]) -> String {
        guard let firstQuote = value.firstIndex(of: UInt8(ascii: "'")),
              let secondQuote = value[(firstQuote + 1)...].firstIndex(of: UInt8(ascii: "'")) else {
            return value.lossyString
        }
        let charset = String(decoding: value[..<firstQuote], as: UTF8.self)
        var decoded: [UInt8] = []
        var index = secondQuote + 1
        while index < value.count {
            if value[index] == UInt8(ascii: "%"), index + 2 < value.count,
               let high = hexValue(value[index + 1]), let low = hexValue(value[index + 2]) {
                decoded.append(high << 4 | low)
                index += 3
            } else {
                decoded.append(value[index])
                index += 1
            }
        }
        return Charsets.decode(decoded, charset: charset.isEmpty ? "us-ascii" : charset)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: return byte - 48
        case 65...70: return byte - 55
        case 97...102: return byte - 87
        default: return nil
        }
    }
}
