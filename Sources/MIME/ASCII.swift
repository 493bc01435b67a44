// Byte classes shared by the parsers (RFC 5322 §3.2.3 atext, RFC 2045 §5.1 tspecials).
enum ASCII {
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
    static let space: UInt8 = 32
    static let tab: UInt8 = 9
    static let dquote: UInt8 = 34
    static let backslash: UInt8 = 92
    static let colon: UInt8 = 58
    static let semicolon: UInt8 = 59
    static let dash: UInt8 = 45

    /// 1 = atext, 2 = alphanumeric (and every 8-bit byte), 4 = atext but a MIME tspecial.
    static let atextClass: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for byte in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(byte)] = 2 }
        for byte in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(byte)] = 2 }
        for byte in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(byte)] = 2 }
        for byte in 128...255 { table[byte] = 2 }
        for char in "!#$%&'*+-^_`{|}~" { table[Int(char.asciiValue!)] = 1 }
        for char in "/=?" { table[Int(char.asciiValue!)] = 4 }
        return table
    }()

    @inline(__always) static func isAtext(_ byte: UInt8) -> Bool { atextClass[Int(byte)] != 0 }
    /// A MIME token byte: atext minus tspecials, plus '.'.
    @inline(__always) static func isTokenByte(_ byte: UInt8) -> Bool {
        let cls = atextClass[Int(byte)]
        return (cls != 0 && cls != 4) || byte == UInt8(ascii: ".")
    }
    @inline(__always) static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab || byte == cr || byte == lf
    }
    @inline(__always) static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 65 && byte <= 90 ? byte + 32 : byte
    }

    static func equalsIgnoringCase<C: Collection>(_ bytes: C, _ literal: String) -> Bool where C.Element == UInt8 {
        let other = Array(literal.utf8)
        guard bytes.count == other.count else { return false }
        return zip(bytes, other).allSatisfy { lower($0) == lower($1) }
    }

    static func equalBytesIgnoringCase<A: Collection, B: Collection>(_ lhs: A, _ rhs: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { lower($0) == lower($1) }
    }

    static func hasPrefixIgnoringCase<C: Collection>(_ bytes: C, _ literal: String) -> Bool where C.Element == UInt8 {
        let other = Array(literal.utf8)
        guard bytes.count >= other.count else { return false }
        return zip(bytes.prefix(other.count), other).allSatisfy { lower($0) == lower($1) }
    }
}

extension Array where Element == UInt8 {
    /// Bytes as a String; invalid UTF-8 becomes U+FFFD.
    var lossyString: String { String(decoding: self, as: UTF8.self) }
}
