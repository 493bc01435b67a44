/// One header field of a message or body part.
public struct HeaderField: Sendable, Equatable {
    /// The field name as written (trailing whitespace before the colon removed).
    public var name: [UInt8]
    /// The value: the first line after the colon and its leading whitespace, then each
    /// continuation line after a `\n`, carriage returns dropped. Not decoded.
    public var value: [UInt8]
    /// Where the whole field, line endings included, sits in the raw message.
    public var range: Range<Int>

    public init(name: [UInt8], value: [UInt8], range: Range<Int>) {
        self.name = name
        self.value = value
        self.range = range
    }

    public var nameString: String { name.lossyString }

    public func hasName(_ candidate: String) -> Bool { ASCII.equalsIgnoringCase(name, candidate) }

    /// The value with folding removed, as IMAP ENVELOPE and Dovecot print it: each line break
    /// dropped, or replaced by a space when the next line does not start with whitespace.
    public var unfoldedValue: [UInt8] { HeaderField.unfold(value) }

    /// The value unfolded and with RFC 2047 encoded-words decoded to text.
    public var decodedValue: String { EncodedWords.decode(unfoldedValue) }

    static func unfold(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(where: { $0 == ASCII.cr || $0 == ASCII.lf }) else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for index in bytes.indices {
            let byte = bytes[index]
            if byte != ASCII.cr && byte != ASCII.lf {
                out.append(byte)
                continue
            }
            let next: UInt8 = index + 1 < bytes.count ? bytes[index + 1] : 0
            if next != ASCII.space && next != ASCII.tab && next != ASCII.cr && next != ASCII.lf && next != 0 {
                out.append(ASCII.space)
            }
        }
        return out
    }
}

/// Splits a header section into fields, one physical line at a time.
struct HeaderLineReader {
    let bytes: [UInt8]
    let end: Int

    /// The line starting at `start`: where its content ends (before CR LF / LF) and where the
    /// next line starts.
    @inline(__always)
    func line(at start: Int) -> (contentEnd: Int, next: Int) {
        var index = start
        while index < end, bytes[index] != ASCII.lf { index += 1 }
        if index == end { return (end, end) }
        let contentEnd = index > start && bytes[index - 1] == ASCII.cr ? index - 1 : index
        return (contentEnd, index + 1)
    }

    /// A field from its first line `[start, contentEnd)`.
    func field(lineStart start: Int, contentEnd: Int, next: Int) -> HeaderField {
        var colon = start
        while colon < contentEnd, bytes[colon] != ASCII.colon { colon += 1 }
        if colon == contentEnd {
            // No colon: the whole line is the name (as Dovecot does).
            return HeaderField(name: Array(bytes[start..<contentEnd]), value: [], range: start..<next)
        }
        var nameEnd = colon
        while nameEnd > start, bytes[nameEnd - 1] == ASCII.space || bytes[nameEnd - 1] == ASCII.tab { nameEnd -= 1 }
        var valueStart = colon + 1
        while valueStart < contentEnd, bytes[valueStart] == ASCII.space || bytes[valueStart] == ASCII.tab { valueStart += 1 }
        return HeaderField(name: Array(bytes[start..<nameEnd]), value: Array(bytes[valueStart..<contentEnd]), range: start..<next)
    }

    /// Appends a continuation line to the field.
    func extend(_ field: inout HeaderField, lineStart start: Int, contentEnd: Int, next: Int) {
        field.value.append(ASCII.lf)
        field.value.append(contentsOf: bytes[start..<contentEnd])
        field.range = field.range.lowerBound..<next
    }
}

extension Array where Element == HeaderField {
    /// The first field with this name (case-insensitive).
    public func first(named name: String) -> HeaderField? { first { $0.hasName(name) } }
    /// Every field with this name, in order.
    public func all(named name: String) -> [HeaderField] { filter { $0.hasName(name) } }
}
