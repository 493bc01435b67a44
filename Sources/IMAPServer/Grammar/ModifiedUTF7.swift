/// Mailbox names on the wire (RFC 3501 §5.1.3): printable ASCII stands for itself except `&`,
/// which is `&-`; other characters are UTF-16, base64 with `,` for `/`, between `&` and `-`.
/// After ENABLE UTF8=ACCEPT (RFC 9051 / RFC 6855) names travel as UTF-8 instead.
public enum ModifiedUTF7 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)

    public static func encode(_ name: String) -> String {
        var out = ""
        var pending: [UInt16] = []
        func flush() {
            guard !pending.isEmpty else { return }
            var bytes: [UInt8] = []
            for unit in pending { bytes += [UInt8(unit >> 8), UInt8(unit & 0xFF)] }
            var text = "&"
            var i = 0
            while i < bytes.count {
                let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
                let chars = [b0 >> 2, ((b0 & 0x03) << 4) | (b1 >> 4), ((b1 & 0x0F) << 2) | (b2 >> 6), b2 & 0x3F]
                let count = min(4, (bytes.count - i) * 8 / 6 + ((bytes.count - i) * 8 % 6 == 0 ? 0 : 1))
                for c in chars.prefix(count) { text.append(Character(UnicodeScalar(alphabet[Int(c)]))) }
                i += 3
            }
            out += text + "-"
            pending = []
        }
        for scalar in name.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value <= 0x7E {
                flush()
                out += scalar == "&" ? "&-" : String(scalar)
            } else {
                pending += Array(String(scalar).utf16)
            }
        }
        flush()
        return out
    }

    /// nil when `text` is not valid modified UTF-7 (bad base64, a printable character
    /// encoded, unpaired surrogates, an unterminated shift).
    public static func decode(_ text: String) -> String? {
        var out = ""
        var bytes = Array(text.utf8)[...]
        while let b = bytes.first {
            bytes = bytes.dropFirst()
            guard b >= 0x20 && b <= 0x7E else { return nil }
            guard b == UInt8(ascii: "&") else {
                out.append(Character(UnicodeScalar(b)))
                continue
            }
            guard let end = bytes.firstIndex(of: UInt8(ascii: "-")) else { return nil }
            let encoded = bytes[..<end]
            bytes = bytes[(end + 1)...]
            if encoded.isEmpty {
                out.append("&")
                continue
            }
            var bits: UInt32 = 0, count = 0
            var raw: [UInt8] = []
            for c in encoded {
                guard let value = alphabet.firstIndex(of: c) else { return nil }
                bits = (bits << 6) | UInt32(value)
                count += 6
                if count >= 8 {
                    count -= 8
                    raw.append(UInt8((bits >> UInt32(count)) & 0xFF))
                }
            }
            guard raw.count % 2 == 0, count < 6, bits & ((1 << UInt32(count)) - 1) == 0 else { return nil }
            var units: [UInt16] = []
            for i in stride(from: 0, to: raw.count, by: 2) { units.append(UInt16(raw[i]) << 8 | UInt16(raw[i + 1])) }
            var decoded = ""
            for result in Unicode.UTF16.decode(units) {
                guard let scalar = result else { return nil }
                // RFC 3501: printable ASCII must not be base64-encoded.
                if scalar.value >= 0x20 && scalar.value <= 0x7E { return nil }
                decoded.unicodeScalars.append(scalar)
            }
            out += decoded
        }
        return out
    }
}

extension Unicode.UTF16 {
    /// Decodes UTF-16 units; nil entries for invalid sequences.
    static func decode(_ units: [UInt16]) -> [Unicode.Scalar?] {
        var iterator = units.makeIterator()
        var parser = Unicode.UTF16.ForwardParser()
        var out: [Unicode.Scalar?] = []
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): out.append(Unicode.UTF16.decode(encoded))
            case .error: out.append(nil)
            case .emptyInput: return out
            }
        }
    }
}
