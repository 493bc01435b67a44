/// Why a command could not be parsed: answered `BAD`, and the session goes on.
public struct IMAPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// The tag, when one could be read (then the BAD is tagged, else untagged `* BAD`).
    public var tag: String?

    public init(_ message: String, tag: String? = nil) {
        self.message = message
        self.tag = tag
    }

    public var description: String { message }
}

/// Byte classes of RFC 3501 §9 (formal syntax).
enum IMAPChar {
    /// ATOM-CHAR: any CHAR except atom-specials — `(` `)` `{` SP CTL `%` `*` `"` `\` `]`.
    static func isAtomChar(_ b: UInt8) -> Bool {
        guard b > 0x20, b < 0x7F else { return false }
        switch b {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"), UInt8(ascii: "%"), UInt8(ascii: "*"),
             UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]"):
            return false
        default:
            return true
        }
    }

    /// ASTRING-CHAR = ATOM-CHAR / resp-specials (`]`).
    static func isAStringChar(_ b: UInt8) -> Bool { isAtomChar(b) || b == UInt8(ascii: "]") }

    /// list-char = ATOM-CHAR / list-wildcards / resp-specials.
    static func isListChar(_ b: UInt8) -> Bool {
        isAStringChar(b) || b == UInt8(ascii: "%") || b == UInt8(ascii: "*")
    }

    /// A tag is 1*<any ASTRING-CHAR except "+">.
    static func isTagChar(_ b: UInt8) -> Bool { isAStringChar(b) && b != UInt8(ascii: "+") }
}

/// A read position in one complete command (its literals inline, as on the wire).
struct ParserCursor {
    let bytes: [UInt8]
    var index = 0
    var tag: String?
    /// Nesting of parenthesised lists and search keys, bounded by `maximumDepth`.
    var depth = 0
    static let maximumDepth = 32

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    func error(_ message: String) -> IMAPParseError { IMAPParseError(message, tag: tag) }

    mutating func expect(_ byte: UInt8, _ what: String) throws(IMAPParseError) {
        guard peek == byte else { throw error("expected \(what)") }
        index += 1
    }

    mutating func space() throws(IMAPParseError) { try expect(UInt8(ascii: " "), "a space") }

    /// Consumes `byte` if it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        guard peek == byte else { return false }
        index += 1
        return true
    }

    /// Consumes the case-insensitive ASCII `word` if it is next (and not followed by more of
    /// an atom).
    mutating func takeWord(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard index + w.count <= bytes.count else { return false }
        for (k, c) in w.enumerated() where Self.upper(bytes[index + k]) != c { return false }
        let after = index + w.count
        if after < bytes.count, IMAPChar.isAtomChar(bytes[after]), w.last.map(IMAPChar.isAtomChar) ?? false { return false }
        index = after
        return true
    }

    mutating func expectEnd() throws(IMAPParseError) {
        guard atEnd else { throw error("unexpected characters at the end of the command") }
    }

    static func upper(_ b: UInt8) -> UInt8 { (b >= 0x61 && b <= 0x7A) ? b - 0x20 : b }

    mutating func enter() throws(IMAPParseError) {
        depth += 1
        guard depth <= Self.maximumDepth else { throw error("nested too deeply") }
    }

    mutating func leave() { depth -= 1 }

    // MARK: Tokens

    /// 1*ATOM-CHAR, as text.
    mutating func atom(_ what: String = "an atom") throws(IMAPParseError) -> String {
        let start = index
        while let b = peek, IMAPChar.isAtomChar(b) { index += 1 }
        guard index > start else { throw error("expected \(what)") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// The tag: 1*<ASTRING-CHAR except "+">.
    mutating func readTag() throws(IMAPParseError) -> String {
        let start = index
        while let b = peek, IMAPChar.isTagChar(b) { index += 1 }
        guard index > start else { throw error("missing tag") }
        let tag = String(decoding: bytes[start..<index], as: UTF8.self)
        self.tag = tag
        return tag
    }

    /// astring = 1*ASTRING-CHAR / string.
    mutating func astring(_ what: String = "a string") throws(IMAPParseError) -> [UInt8] {
        if peek == UInt8(ascii: "\"") || peek == UInt8(ascii: "{") { return try string(what) }
        let start = index
        while let b = peek, IMAPChar.isAStringChar(b) { index += 1 }
        guard index > start else { throw error("expected \(what)") }
        return Array(bytes[start..<index])
    }

    /// string = quoted / literal.
    mutating func string(_ what: String = "a string") throws(IMAPParseError) -> [UInt8] {
        switch peek {
        case UInt8(ascii: "\""): return try quoted()
        case UInt8(ascii: "{"): return try literal()
        default: throw error("expected \(what)")
        }
    }

    /// nstring = string / NIL.
    mutating func nstring() throws(IMAPParseError) -> [UInt8]? {
        if takeWord("NIL") { return nil }
        return try string()
    }

    /// quoted = DQUOTE *QUOTED-CHAR DQUOTE; `\` escapes only `"` and `\`. UTF-8 is let through
    /// (RFC 9051, UTF8=ACCEPT); CR, LF and NUL never.
    mutating func quoted() throws(IMAPParseError) -> [UInt8] {
        try expect(UInt8(ascii: "\""), "a quoted string")
        var out: [UInt8] = []
        while let b = peek {
            index += 1
            switch b {
            case UInt8(ascii: "\""): return out
            case UInt8(ascii: "\\"):
                guard let next = peek, next == UInt8(ascii: "\"") || next == UInt8(ascii: "\\") else {
                    throw error("bad escape in a quoted string")
                }
                out.append(next)
                index += 1
            case 0, 0x0D, 0x0A:
                throw error("NUL, CR or LF in a quoted string")
            default:
                out.append(b)
            }
        }
        throw error("unterminated quoted string")
    }

    /// literal = "{" number ["+"] "}" CRLF *CHAR8 — the framer has put the bytes inline.
    mutating func literal() throws(IMAPParseError) -> [UInt8] {
        try expect(UInt8(ascii: "{"), "a literal")
        let count = try number(max: UInt64(Int32.max))
        _ = take(UInt8(ascii: "+"))
        try expect(UInt8(ascii: "}"), "'}' closing the literal size")
        try expect(0x0D, "CRLF after a literal size")
        try expect(0x0A, "CRLF after a literal size")
        guard bytes.count - index >= Int(count) else { throw error("literal shorter than announced") }
        let out = Array(bytes[index..<index + Int(count)])
        index += Int(count)
        for b in out where b == 0 { throw error("NUL in a literal") }
        return out
    }

    /// number: 1*DIGIT, at most `max`.
    mutating func number(max: UInt64 = UInt64(UInt32.max)) throws(IMAPParseError) -> UInt64 {
        let start = index
        var value: UInt64 = 0
        while let b = peek, b >= 0x30, b <= 0x39 {
            value = value * 10 + UInt64(b - 0x30)
            guard value <= max else { throw error("number out of range") }
            index += 1
        }
        guard index > start else { throw error("expected a number") }
        return value
    }

    /// nz-number: a number ≥ 1 that fits 32 bits.
    mutating func nzNumber() throws(IMAPParseError) -> UInt32 {
        let n = try number()
        guard n > 0 else { throw error("zero is not a valid number here") }
        return UInt32(n)
    }

    /// sequence-set = (seq-number / seq-range) *("," …); seq-number = nz-number / "*".
    mutating func sequenceSet() throws(IMAPParseError) -> SequenceSet {
        var ranges: [SequenceSet.Range] = []
        repeat {
            let first = try sequenceNumber()
            if take(UInt8(ascii: ":")) {
                ranges.append(.init(first, try sequenceNumber()))
            } else {
                ranges.append(.init(first, first))
            }
        } while take(UInt8(ascii: ","))
        return SequenceSet(ranges)
    }

    mutating func sequenceNumber() throws(IMAPParseError) -> SequenceNumber {
        if take(UInt8(ascii: "*")) { return .last }
        guard let b = peek, b >= 0x30, b <= 0x39 else { throw error("invalid sequence set") }
        return .number(try nzNumber())
    }

    /// flag = "\Answered" / … / flag-keyword / flag-extension ("\" atom).
    mutating func flag() throws(IMAPParseError) -> Flag {
        if take(UInt8(ascii: "\\")) {
            if take(UInt8(ascii: "*")) { throw error("\\* is not a flag") }
            return Flag("\\" + (try atom("a flag")))
        }
        return Flag(try atom("a flag"))
    }

    /// flag-list = "(" [flag *(SP flag)] ")".
    mutating func flagList() throws(IMAPParseError) -> [Flag] {
        try expect(UInt8(ascii: "("), "'(' starting a flag list")
        var flags: [Flag] = []
        if take(UInt8(ascii: ")")) { return flags }
        repeat { flags.append(try flag()) } while take(UInt8(ascii: " "))
        try expect(UInt8(ascii: ")"), "')' closing the flag list")
        return flags
    }

    /// mailbox = "INBOX" / astring.
    mutating func mailbox() throws(IMAPParseError) -> MailboxArgument {
        MailboxArgument(try astring("a mailbox name"))
    }

    /// list-mailbox = 1*list-char / string.
    mutating func listMailbox() throws(IMAPParseError) -> [UInt8] {
        if peek == UInt8(ascii: "\"") || peek == UInt8(ascii: "{") { return try string() }
        let start = index
        while let b = peek, IMAPChar.isListChar(b) { index += 1 }
        guard index > start else { throw error("expected a mailbox pattern") }
        return Array(bytes[start..<index])
    }

    /// A parenthesised, space-separated list of atoms: `(A B C)`.
    mutating func atomList() throws(IMAPParseError) -> [String] {
        try expect(UInt8(ascii: "("), "'('")
        var out: [String] = []
        if take(UInt8(ascii: ")")) { return out }
        repeat { out.append(try atom()) } while take(UInt8(ascii: " "))
        try expect(UInt8(ascii: ")"), "')'")
        return out
    }
}

extension ParserCursor {
    /// A keyword (command name, fetch item, search key…): letters, digits, `.` and `-`,
    /// upper-cased. Stops before `[`, `(`, `<` and spaces.
    mutating func keyword(_ what: String = "a keyword") throws(IMAPParseError) -> String {
        let start = index
        while let b = peek, (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
                || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") {
            index += 1
        }
        guard index > start else { throw error("expected \(what)") }
        return String(decoding: bytes[start..<index].map(Self.upper), as: UTF8.self)
    }

    static let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]

    /// date-text = date-day "-" date-month "-" date-year, bare or quoted (SEARCH dates).
    mutating func searchDate() throws(IMAPParseError) -> SearchDate {
        let quoted = take(UInt8(ascii: "\""))
        let day = try number(max: 31)
        try expect(UInt8(ascii: "-"), "'-' in a date")
        let month = try monthName()
        try expect(UInt8(ascii: "-"), "'-' in a date")
        let year = try fixedDigits(4)
        if quoted { try expect(UInt8(ascii: "\""), "'\"' closing the date") }
        guard day >= 1 else { throw error("invalid date") }
        return SearchDate(year: year, month: month, day: Int(day))
    }

    /// date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE.
    mutating func dateTime() throws(IMAPParseError) -> IMAPDateTime {
        try expect(UInt8(ascii: "\""), "a quoted date-time")
        if take(UInt8(ascii: " ")) {}  // date-day-fixed: (SP DIGIT) / 2DIGIT
        let day = try number(max: 31)
        try expect(UInt8(ascii: "-"), "'-' in the date")
        let month = try monthName()
        try expect(UInt8(ascii: "-"), "'-' in the date")
        let year = try fixedDigits(4)
        try space()
        let hour = try fixedDigits(2)
        try expect(UInt8(ascii: ":"), "':' in the time")
        let minute = try fixedDigits(2)
        try expect(UInt8(ascii: ":"), "':' in the time")
        let second = try fixedDigits(2)
        try space()
        let sign: Int
        if take(UInt8(ascii: "+")) { sign = 1 } else if take(UInt8(ascii: "-")) { sign = -1 } else {
            throw error("expected a zone like +0200")
        }
        let zone = try fixedDigits(4)
        try expect(UInt8(ascii: "\""), "'\"' closing the date-time")
        guard day >= 1, hour < 24, minute < 60, second < 61, zone % 100 < 60 else { throw error("invalid date-time") }
        return IMAPDateTime(year: year, month: month, day: Int(day), hour: hour, minute: minute, second: second,
                            zoneMinutes: sign * ((zone / 100) * 60 + zone % 100))
    }

    mutating func monthName() throws(IMAPParseError) -> Int {
        guard index + 3 <= bytes.count else { throw error("expected a month name") }
        let name = String(decoding: bytes[index..<index + 3].map(Self.upper), as: UTF8.self)
        guard let month = Self.months.firstIndex(of: name) else { throw error("expected a month name") }
        index += 3
        return month + 1
    }

    mutating func fixedDigits(_ count: Int) throws(IMAPParseError) -> Int {
        var value = 0
        for _ in 0..<count {
            guard let b = peek, b >= 0x30, b <= 0x39 else { throw error("expected \(count) digits") }
            value = value * 10 + Int(b - 0x30)
            index += 1
        }
        return value
    }
}
