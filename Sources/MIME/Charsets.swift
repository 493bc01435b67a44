#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Conversion of text in a named charset to UTF-8 through the C library's iconv, which knows
/// every charset mail uses (UTF-8, ISO-8859-*, Windows-125x, GB2312/GBK/GB18030, Big5,
/// Shift_JIS, ISO-2022-JP, KOI8-R, …). Unknown charsets and invalid sequences never fail:
/// the result is the best text that can be made, with U+FFFD for what cannot.
public enum Charsets {
    /// Decodes `bytes` written in `charset` (case-insensitive, as in MIME) to a String.
    public static func decode(_ bytes: [UInt8], charset: String) -> String {
        let name = canonicalName(charset)
        if name == "UTF-8" || name == "US-ASCII" || bytes.allSatisfy({ $0 < 0x80 }) {
            return decodeUnlabelled(bytes)
        }
        if let converted = iconvToUTF8(bytes, from: name) { return converted }
        return decodeUnlabelled(bytes)
    }

    /// Text with no charset label (raw 8-bit header values): UTF-8 when it is valid UTF-8,
    /// else GB18030 (a superset of GB2312/GBK, the commonest unlabelled 8-bit mail here),
    /// else ISO-8859-1, which accepts any byte.
    public static func decodeUnlabelled(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        if let text = iconvToUTF8(bytes, from: "GB18030", strict: true) { return text }
        return String(decoding: bytes.map { UInt16($0) }, as: UTF16.self)
    }

    static func canonicalName(_ charset: String) -> String {
        var name = charset.trimmingASCIIWhitespace().uppercased()
        // RFC 2231 §5: a language may follow the charset after '*'.
        if let star = name.firstIndex(of: "*") { name = String(name[..<star]) }
        switch name {
        case "UTF8": return "UTF-8"
        case "ASCII", "US_ASCII", "ANSI_X3.4-1968", "": return "US-ASCII"
        // GB2312-labelled mail routinely carries GBK characters; GB18030 is a superset of both.
        case "GB2312", "GBK", "X-GBK", "CP936", "EUC-CN": return "GB18030"
        case "KS_C_5601-1987": return "CP949"
        default: return name
        }
    }

    /// iconv conversion; `nil` when the charset is unknown (or, when strict, the input invalid).
    static func iconvToUTF8(_ bytes: [UInt8], from charset: String, strict: Bool = false) -> String? {
        let descriptor = iconv_open("UTF-8", charset)
        if descriptor == iconv_t(bitPattern: -1) { return nil }
        defer { iconv_close(descriptor) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 2 + 16)
        var input = bytes
        var chunk = [UInt8](repeating: 0, count: 4096)
        var inputOffset = 0
        while inputOffset < input.count {
            let (consumed, produced, error) = input.withUnsafeMutableBufferPointer { inBuffer -> (Int, Int, Int32) in
                chunk.withUnsafeMutableBufferPointer { outBuffer -> (Int, Int, Int32) in
                    var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(inBuffer.baseAddress! + inputOffset)
                        .assumingMemoryBound(to: CChar.self)
                    var inLeft = inBuffer.count - inputOffset
                    var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuffer.baseAddress!)
                        .assumingMemoryBound(to: CChar.self)
                    var outLeft = outBuffer.count
                    let status = iconv(descriptor, &inPointer, &inLeft, &outPointer, &outLeft)
                    let failure: Int32 = status == -1 ? errno : 0
                    return (inBuffer.count - inputOffset - inLeft, outBuffer.count - outLeft, failure)
                }
            }
            output.append(contentsOf: chunk[0..<produced])
            inputOffset += consumed
            if error == 0 || error == E2BIG { continue }
            // EILSEQ / EINVAL: an invalid or truncated sequence.
            if strict { return nil }
            output.append(contentsOf: [0xEF, 0xBF, 0xBD])
            inputOffset += 1
        }
        input.removeAll()
        return String(decoding: output, as: UTF8.self)
    }
}

extension String {
    func trimmingASCIIWhitespace() -> String {
        let scalars = unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, scalars[start] == " " || scalars[start] == "\t" || scalars[start] == "\r" || scalars[start] == "\n" {
            start = scalars.index(after: start)
        }
        while end > start {
            let before = scalars.index(before: end)
            let scalar = scalars[before]
            guard scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\n" else { break }
            end = before
        }
        return String(scalars[start..<end])
    }
}
