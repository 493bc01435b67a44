/// One entry of an IMAP address list (RFC 3501 §7.4.2): a mailbox, or the start or end of a
/// group. A group start has only `mailbox` (the group name); a group end has nothing.
public struct IMAPAddress: Sendable, Equatable {
    public var name: [UInt8]?
    public var route: [UInt8]?
    public var mailbox: [UInt8]?
    public var host: [UInt8]?

    public var isGroupStart: Bool { host == nil && mailbox != nil }
    public var isGroupEnd: Bool { host == nil && mailbox == nil }
}

/// RFC 5322 §3.4 address lists, read leniently as IMAP servers must: what cannot be parsed is
/// still reported, with `MISSING_MAILBOX` / `MISSING_DOMAIN` / `SYNTAX_ERROR` / `INVALID_ROUTE`
/// where a piece is absent (the placeholders Dovecot reports, so clients see the same thing).
/// A comment after a bare address names it (`ann@example.org (Ann)`); a bare word is a name.
struct AddressListParser {
    private var lexer: RFC822Lexer
    private var address = IMAPAddress()
    private var invalid = false
    private var results: [IMAPAddress] = []
    private let maxAddresses: Int

    static func parse(_ value: [UInt8], maxAddresses: Int = 10_000) -> [IMAPAddress] {
        var parser = AddressListParser(value: value, maxAddresses: maxAddresses)
        return parser.run()
    }

    private init(value: [UInt8], maxAddresses: Int) {
        lexer = RFC822Lexer(value, rememberComments: true)
        self.maxAddresses = maxAddresses
    }

    private mutating func run() -> [IMAPAddress] {
        guard lexer.skipCFWS() == .more else { return [] }
        var remaining = maxAddresses
        while remaining > 0, results.count < maxAddresses {
            remaining -= 1
            if parseAddress() == .end { break }
            guard let next = lexer.current, next == UInt8(ascii: ",") else { break }
            lexer.position += 1
            let skipped = lexer.skipCFWS()
            if skipped != .more {
                if skipped == .failed { addFixed() }
                break
            }
        }
        return results
    }

    private mutating func add() {
        guard results.count < maxAddresses else { address = IMAPAddress(); return }
        results.append(address)
        address = IMAPAddress()
        invalid = false
    }

    private mutating func addFixed() {
        if address.mailbox == nil {
            address.mailbox = Array("MISSING_MAILBOX".utf8)
            invalid = true
        }
        if address.host == nil || address.host!.isEmpty {
            address.host = Array("MISSING_DOMAIN".utf8)
            invalid = true
        }
        add()
    }

    private mutating func parseAddress() -> RFC822Lexer.Result {
        let start = lexer.position
        if let result = parseGroup() { return result }
        lexer.position = start
        return parseMailbox()
    }

    /// `display-name ":" [mailbox-list] ";"` — `nil` when this is not a group.
    private mutating func parseGroup() -> RFC822Lexer.Result? {
        var name: [UInt8] = []
        guard lexer.phrase(into: &name) == .more, lexer.current == ASCII.colon else { return nil }
        lexer.position += 1
        var result = lexer.skipCFWS()
        if result != .more { invalid = true }
        address.mailbox = name
        add()
        if result == .more && lexer.current != ASCII.semicolon {
            while results.count < maxAddresses {
                _ = parseMailbox()
                guard let next = lexer.current, next == UInt8(ascii: ",") else { break }
                lexer.position += 1
                if lexer.skipCFWS() != .more { result = .failed; break }
            }
        }
        if result != .failed {
            if lexer.current != ASCII.semicolon {
                result = .failed
            } else {
                lexer.position += 1
                result = lexer.skipCFWS()
            }
        }
        add()   // group end
        return result == .end ? .end : .more
    }

    private mutating func parseMailbox() -> RFC822Lexer.Result {
        let start = lexer.position
        var result = parseNameAddr()
        if result == .failed {
            lexer.position = start
            address = IMAPAddress()
            result = parseAddrSpec()
            if invalid, address.name == nil, address.mailbox != nil, address.host == nil {
                address.name = address.mailbox
                address.mailbox = nil
            }
        }
        addFixed()
        return result
    }

    private mutating func parseNameAddr() -> RFC822Lexer.Result {
        var name: [UInt8] = []
        guard lexer.phrase(into: &name) == .more, lexer.current == UInt8(ascii: "<") else { return .failed }
        address.name = name.isEmpty ? nil : name
        if parseAngleAddr() == .failed {
            address.host = Array("SYNTAX_ERROR".utf8)
            invalid = true
        }
        return lexer.atEnd ? .end : .more
    }

    private mutating func parseAngleAddr() -> RFC822Lexer.Result {
        lexer.position += 1
        if lexer.skipCFWS() != .more { return .failed }
        if lexer.current == UInt8(ascii: "@") {
            if parseDomainList() == .more, lexer.current == ASCII.colon {
                lexer.position += 1
            } else {
                address.route = Array("INVALID_ROUTE".utf8)
                if lexer.atEnd { return .failed }
            }
            if lexer.skipCFWS() != .more { return .failed }
        }
        if lexer.current != UInt8(ascii: ">") {
            if parseLocalPart() != .more { return .failed }
            if lexer.current == UInt8(ascii: "@") {
                if parseDomain() != .more { return .failed }
            }
        }
        guard lexer.current == UInt8(ascii: ">") else { return .failed }
        lexer.position += 1
        return lexer.skipCFWS()
    }

    /// obs-domain-list: `@a,@b` before the colon of a source route.
    private mutating func parseDomainList() -> RFC822Lexer.Result {
        var route: [UInt8] = []
        while true {
            guard let byte = lexer.current else { return .end }
            if byte != UInt8(ascii: "@") { break }
            if !route.isEmpty { route.append(UInt8(ascii: ",")) }
            route.append(UInt8(ascii: "@"))
            let result = lexer.domain(into: &route)
            if result != .more { return result }
            while lexer.skipCFWS() == .more, lexer.current == UInt8(ascii: ",") { lexer.position += 1 }
        }
        address.route = route
        return .more
    }

    private mutating func parseLocalPart() -> RFC822Lexer.Result {
        var local: [UInt8] = []
        let result: RFC822Lexer.Result
        if lexer.current == ASCII.dquote {
            result = lexer.quotedString(into: &local)
        } else {
            result = nonStrictDotAtom(into: &local)
        }
        if result == .failed { return .failed }
        address.mailbox = local
        return result
    }

    /// A dot-atom that tolerates leading, trailing and doubled dots (common in real mail).
    private mutating func nonStrictDotAtom(into out: inout [UInt8]) -> RFC822Lexer.Result {
        var result = RFC822Lexer.Result.failed
        repeat {
            while lexer.current == UInt8(ascii: ".") {
                out.append(UInt8(ascii: "."))
                lexer.position += 1
                if lexer.atEnd { return .end }
                result = .more
            }
            if lexer.current == UInt8(ascii: "@") { break }
            result = lexer.atom(into: &out)
        } while result == .more && lexer.current == UInt8(ascii: ".")
        return result
    }

    private mutating func parseDomain() -> RFC822Lexer.Result {
        var domain: [UInt8] = []
        let result = lexer.domain(into: &domain)
        if result == .failed { return .failed }
        address.host = domain
        return result
    }

    private mutating func parseAddrSpec() -> RFC822Lexer.Result {
        lexer.lastComment = []
        let quoted = lexer.current == ASCII.dquote
        var result = parseLocalPart()
        var domainResult: RFC822Lexer.Result?
        if result != .more { invalid = true }
        if result != .end, !lexer.atEnd, lexer.current == UInt8(ascii: "@") {
            let parsed = parseDomain()
            domainResult = parsed
            if parsed != .more { result = parsed }
        }
        if let comment = lexer.lastComment, !comment.isEmpty {
            address.name = comment
        } else if domainResult == nil {
            // A word without @domain: alone it is a mailbox, followed by more words a name.
            var name = address.mailbox ?? []
            name.append(ASCII.space)
            let before = name.count
            _ = lexer.phrase(into: &name)
            if name.count != before {
                address.mailbox = nil
                address.name = name
            } else if !quoted {
                address.host = []
            }
            invalid = true
            result = .failed
        }
        return result
    }
}
