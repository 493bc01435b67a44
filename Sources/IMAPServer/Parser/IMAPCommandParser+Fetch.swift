extension IMAPCommandParser {
    /// FETCH SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP
    /// fetch-att) ")") [SP "(" CHANGEDSINCE n ")"] — RFC 3501 §6.4.5, RFC 7162.
    static func fetch(_ c: inout ParserCursor, uid: Bool) throws(IMAPParseError) -> IMAPCommand {
        try c.space()
        let set = try c.sequenceSet()
        try c.space()
        var attributes: [FetchAttribute] = []
        if c.take(UInt8(ascii: "(")) {
            repeat { attributes.append(contentsOf: try fetchAttribute(&c, macros: false)) } while c.take(UInt8(ascii: " "))
            try c.expect(UInt8(ascii: ")"), "')' closing the fetch items")
        } else {
            attributes = try fetchAttribute(&c, macros: true)
        }
        var changedSince: UInt64?
        if c.take(UInt8(ascii: " ")) {
            try c.expect(UInt8(ascii: "("), "'(' starting FETCH modifiers")
            guard try c.keyword() == "CHANGEDSINCE" else { throw c.error("unknown FETCH modifier") }
            try c.space()
            changedSince = try c.number(max: UInt64(Int64.max))
            try c.expect(UInt8(ascii: ")"), "')' closing FETCH modifiers")
        }
        // RFC 3501 §6.4.8: a UID FETCH always returns the UID.
        if uid && !attributes.contains(.uid) { attributes.insert(.uid, at: 0) }
        return .fetch(set, attributes, uid: uid, changedSince: changedSince)
    }

    static func fetchAttribute(_ c: inout ParserCursor, macros: Bool) throws(IMAPParseError) -> [FetchAttribute] {
        let word = try c.keyword("a fetch item")
        switch word {
        case "ALL" where macros: return FetchAttribute.all
        case "FAST" where macros: return FetchAttribute.fast
        case "FULL" where macros: return FetchAttribute.full
        case "ENVELOPE": return [.envelope]
        case "FLAGS": return [.flags]
        case "INTERNALDATE": return [.internalDate]
        case "RFC822": return [.rfc822]
        case "RFC822.HEADER": return [.rfc822Header]
        case "RFC822.SIZE": return [.rfc822Size]
        case "RFC822.TEXT": return [.rfc822Text]
        case "BODYSTRUCTURE": return [.bodyStructure]
        case "UID": return [.uid]
        case "MODSEQ": return [.modSeq]
        case "BODY", "BODY.PEEK":
            guard c.peek == UInt8(ascii: "[") else {
                if word == "BODY" { return [.body] }
                throw c.error("BODY.PEEK needs a section")
            }
            let section = try sectionSpec(&c)
            var partial: Partial?
            if c.take(UInt8(ascii: "<")) {
                let origin = try c.number(max: UInt64(Int32.max))
                try c.expect(UInt8(ascii: "."), "'.' in a partial")
                let length = try c.number(max: UInt64(Int32.max))
                guard length > 0 else { throw c.error("a partial's length must be at least 1") }
                try c.expect(UInt8(ascii: ">"), "'>' closing the partial")
                partial = Partial(origin: Int(origin), length: Int(length))
            }
            return [.section(section, partial: partial, peek: word == "BODY.PEEK")]
        default:
            throw c.error("unknown fetch item \(word)")
        }
    }

    /// section = "[" [section-spec] "]"; section-spec = section-msgtext / (section-part
    /// ["." section-text]).
    static func sectionSpec(_ c: inout ParserCursor) throws(IMAPParseError) -> SectionSpec {
        try c.expect(UInt8(ascii: "["), "'['")
        var spec = SectionSpec()
        if c.take(UInt8(ascii: "]")) { return spec }
        // section-part = nz-number *("." nz-number)
        while let b = c.peek, b >= 0x30, b <= 0x39 {
            let n = try c.nzNumber()
            guard spec.part.count < 64 else { throw c.error("section part too deep") }
            spec.part.append(Int(n))
            guard c.take(UInt8(ascii: ".")) else { break }
        }
        if c.peek != UInt8(ascii: "]") {
            let word = try c.keyword("HEADER, HEADER.FIELDS, TEXT or MIME")
            switch word {
            case "HEADER": spec.text = .header
            case "TEXT": spec.text = .text
            case "MIME":
                guard !spec.part.isEmpty else { throw c.error("MIME needs a part number") }
                spec.text = .mime
            case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
                try c.space()
                try c.expect(UInt8(ascii: "("), "'(' starting the header list")
                var names: [String] = []
                repeat {
                    names.append(String(decoding: try c.astring("a header name"), as: UTF8.self))
                    guard names.count <= 256 else { throw c.error("too many header names") }
                } while c.take(UInt8(ascii: " "))
                try c.expect(UInt8(ascii: ")"), "')' closing the header list")
                spec.text = word == "HEADER.FIELDS" ? .headerFields(names) : .headerFieldsNot(names)
            default:
                throw c.error("unknown section \(word)")
            }
        } else if !spec.part.isEmpty, c.bytes[c.index - 1] == UInt8(ascii: ".") {
            throw c.error("section ends with '.'")
        }
        try c.expect(UInt8(ascii: "]"), "']' closing the section")
        return spec
    }
}
