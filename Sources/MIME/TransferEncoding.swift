/// Content-Transfer-Encoding decoders (RFC 2045 §6.7 quoted-printable, §6.8 base64) and the
/// `Q` form of RFC 2047 §4.2. Linear, tolerant of what real mailers send: bad base64
/// characters are skipped in bodies, a broken `=XX` escape is kept as written.
public enum TransferEncoding {
    private static let base64Values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, char) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(char)] = UInt8(value)
        }
        return table
    }()

    /// Base64 decoding. `strict` (encoded-words) refuses any byte outside the alphabet.
    public static func decodeBase64<C: Collection>(_ input: C, strict: Bool = false) -> [UInt8]? where C.Element == UInt8 {
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in input {
            let value = base64Values[Int(byte)]
            if value == 0xFF {
                if byte == UInt8(ascii: "=") { continue }
                if strict { return nil }
                continue
            }
            accumulator = (accumulator << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8((accumulator >> UInt32(bits)) & 0xFF))
            }
        }
        return output
    }

    /// Quoted-printable decoding; `headerForm` also turns '_' into a space (RFC 2047 §4.2).
    public static func decodeQuotedPrintable<C: RandomAccessCollection>(_ input: C, headerForm: Bool = false) -> [UInt8] where C.Element == UInt8, C.Index == Int {
        var output: [UInt8] = []
        output.reserveCapacity(input.count)
        var index = input.startIndex
        let end = input.endIndex
        while index < end {
            let byte = input[index]
            if byte == UInt8(ascii: "=") {
                if index + 2 < end {
                    if let high = RFC2231.hexValue(input[index + 1]), let low = RFC2231.hexValue(input[index + 2]) {
                        output.append(high << 4 | low)
                        index += 3
                        continue
                    }
                }
                // Soft line break: "=" then optional trailing whitespace then [CR]LF.
                var probe = index + 1
                while probe < end, input[probe] == ASCII.space || input[probe] == ASCII.tab { probe += 1 }
                if probe < end, input[probe] == ASCII.cr { probe += 1 }
                if probe < end, input[probe] == ASCII.lf { index = probe + 1; continue }
                if probe == end { index = end; continue }
                output.append(byte)
                index += 1
            } else if headerForm && byte == UInt8(ascii: "_") {
                output.append(ASCII.space)
                index += 1
            } else {
                output.append(byte)
                index += 1
            }
        }
        return output
    }
}
