extension IMAPCommandParser {
    /// SEARCH [SP "CHARSET" SP astring] 1*(SP search-key) — RFC 3501 §6.4.4.
    static func search(_ c: inout ParserCursor, uid: Bool) throws(IMAPParseError) -> IMAPCommand {
        var charset: String?
        var keys: [SearchKey] = []
        while c.take(UInt8(ascii: " ")) {
            if keys.isEmpty && charset == nil && c.takeWord("CHARSET") {
                try c.space()
                charset = String(decoding: try c.astring("a charset"), as: UTF8.self).uppercased()
                continue
            }
            keys.append(try searchKey(&c))
        }
        guard !keys.isEmpty else { throw c.error("SEARCH needs a search key") }
        return .search(charset: charset, key: keys.count == 1 ? keys[0] : .and(keys), uid: uid)
    }

    static func searchKey(_ c: inout ParserCursor) throws(IMAPParseError) -> SearchKey {
        try c.enter()
        defer { c.leave() }
        if c.take(UInt8(ascii: "(")) {
            var keys: [SearchKey] = []
            repeat { keys.append(try searchKey(&c)) } while c.take(UInt8(ascii: " "))
            try c.expect(UInt8(ascii: ")"), "')' closing the search keys")
            return keys.count == 1 ? keys[0] : .and(keys)
        }
        if let b = c.peek, (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "*") {
            return .sequence(try c.sequenceSet())
        }
        let word = try c.keyword("a search key")
        func text(_ c: inout ParserCursor) throws(IMAPParseError) -> String {
            try c.space()
            return String(decoding: try c.astring("a search string"), as: UTF8.self)
        }
        func date(_ c: inout ParserCursor) throws(IMAPParseError) -> SearchDate {
            try c.space()
            return try c.searchDate()
        }
        switch word {
        case "ALL": return .all
        case "ANSWERED": return .answered
        case "DELETED": return .deleted
        case "DRAFT": return .draft
        case "FLAGGED": return .flagged
        case "NEW": return .new
        case "OLD": return .old
        case "RECENT": return .recent
        case "SEEN": return .seen
        case "UNANSWERED": return .unanswered
        case "UNDELETED": return .undeleted
        case "UNDRAFT": return .undraft
        case "UNFLAGGED": return .unflagged
        case "UNSEEN": return .unseen
        case "KEYWORD", "UNKEYWORD":
            try c.space()
            let flag = try c.atom("a keyword")
            return word == "KEYWORD" ? .keyword(flag) : .unkeyword(flag)
        case "BCC": return .bcc(try text(&c))
        case "BODY": return .body(try text(&c))
        case "CC": return .cc(try text(&c))
        case "FROM": return .from(try text(&c))
        case "SUBJECT": return .subject(try text(&c))
        case "TEXT": return .text(try text(&c))
        case "TO": return .to(try text(&c))
        case "HEADER":
            let field = try text(&c)
            return .header(field, try text(&c))
        case "BEFORE": return .before(try date(&c))
        case "ON": return .on(try date(&c))
        case "SINCE": return .since(try date(&c))
        case "SENTBEFORE": return .sentBefore(try date(&c))
        case "SENTON": return .sentOn(try date(&c))
        case "SENTSINCE": return .sentSince(try date(&c))
        case "LARGER", "SMALLER":
            try c.space()
            let n = UInt32(try c.number())
            return word == "LARGER" ? .larger(n) : .smaller(n)
        case "UID":
            try c.space()
            return .uid(try c.sequenceSet())
        case "NOT":
            try c.space()
            return .not(try searchKey(&c))
        case "OR":
            try c.space()
            let a = try searchKey(&c)
            try c.space()
            return .or(a, try searchKey(&c))
        case "MODSEQ":
            try c.space()
            // RFC 7162: MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer.
            if c.peek == UInt8(ascii: "\"") {
                _ = try c.quoted()
                try c.space()
                _ = try c.atom("an entry type")
                try c.space()
            }
            return .modSeq(try c.number(max: UInt64(Int64.max)))
        default:
            throw c.error("unknown search key \(word)")
        }
    }
}
