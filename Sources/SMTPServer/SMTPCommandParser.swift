/// Turns one command line (without its line end) into an `SMTPCommand`. Verbs are case
/// insensitive; `MAIL FROM: <a@b>` (space after the colon) is accepted as Postfix does.
/// Pure and bounded by the line length the session allows; fuzzed by `petrel-fuzz` selector 8.
public enum SMTPCommandParser {
    public static let maximumDomainLength = 255
    public static let maximumLocalPartLength = 64

    public static func parse(_ bytes: [UInt8]) throws(SMTPSyntaxError) -> SMTPCommand {
        if bytes.contains(0) { throw .nulByte }
        guard let line = String(validating: bytes, as: UTF8.self) else { throw .syntax("commands are ASCII or UTF-8 text") }
        let trimmed = line.trimmingTrailingSpaces()
        let verbEnd = trimmed.firstIndex(of: " ") ?? trimmed.endIndex
        let verb = trimmed[..<verbEnd].uppercased()
        let rest = String(trimmed[verbEnd...].drop(while: { $0 == " " }))
        switch verb {
        case "HELO":
            guard !rest.isEmpty, !rest.utf8.contains(UInt8(ascii: " ")) else { throw .syntax("HELO hostname") }
            return .helo(rest)
        case "EHLO":
            guard !rest.isEmpty, !rest.utf8.contains(UInt8(ascii: " ")) else { throw .syntax("EHLO hostname") }
            return .ehlo(rest)
        case "MAIL":
            guard let pathText = value(afterKeyword: "FROM:", in: rest) else { throw .syntax("MAIL FROM:<address>") }
            let (path, params) = try splitPath(pathText, usage: "MAIL FROM:<address>")
            let parsedPath = try parsePath(path, allowNull: true, usage: "MAIL FROM:<address>")
            return .mail(parsedPath, try mailParameters(params))
        case "RCPT":
            guard let pathText = value(afterKeyword: "TO:", in: rest) else { throw .syntax("RCPT TO:<address>") }
            let (path, params) = try splitPath(pathText, usage: "RCPT TO:<address>")
            if let first = params.first { throw .unsupportedParameter(first) }
            return .rcpt(try parsePath(path, allowNull: false, usage: "RCPT TO:<address>"))
        case "DATA":
            guard rest.isEmpty else { throw .syntax("DATA") }
            return .data
        case "BDAT":
            let words = rest.split(separator: " ")
            guard (1...2).contains(words.count), words[0].count <= 10, words[0].allSatisfy(\.isASCIIDigit),
                  let size = Int(words[0]) else { throw .syntax("BDAT size [LAST]") }
            if words.count == 2 && words[1].uppercased() != "LAST" { throw .syntax("BDAT size [LAST]") }
            return .bdat(size: size, last: words.count == 2)
        case "RSET":
            guard rest.isEmpty else { throw .syntax("RSET") }
            return .rset
        case "NOOP": return .noop  // RFC 5321 §4.1.1.9: a parameter is allowed and ignored
        case "QUIT":
            guard rest.isEmpty else { throw .syntax("QUIT") }
            return .quit
        case "HELP": return .help
        case "VRFY":
            guard !rest.isEmpty else { throw .syntax("VRFY address") }
            return .vrfy(rest)
        case "EXPN":
            guard !rest.isEmpty else { throw .syntax("EXPN mailing-list") }
            return .expn(rest)
        case "STARTTLS":
            guard rest.isEmpty else { throw .syntax("STARTTLS") }
            return .startTLS
        case "AUTH":
            let words = rest.split(separator: " ")
            guard (1...2).contains(words.count) else { throw .syntax("AUTH mechanism [initial-response]") }
            return .auth(mechanism: words[0].uppercased(), initialResponse: words.count == 2 ? String(words[1]) : nil)
        default:
            throw .unknownCommand
        }
    }

    /// `FROM:<…>` → `<…>` with case-insensitive keyword and optional spaces after the colon.
    static func value(afterKeyword keyword: String, in text: String) -> String? {
        guard text.count >= keyword.count, text.prefix(keyword.count).uppercased() == keyword else { return nil }
        return String(text.dropFirst(keyword.count).drop(while: { $0 == " " }))
    }

    /// Splits `<path> PARAM=V PARAM` at the closing `>` (quoted strings may hold `>` and spaces).
    static func splitPath(_ text: String, usage: String) throws(SMTPSyntaxError) -> (String, [String]) {
        guard text.first == "<" else { throw .syntax(usage) }
        var inQuotes = false
        var escaped = false
        var end: String.Index?
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let c = text[index]
            if escaped { escaped = false } else if c == "\\" && inQuotes { escaped = true } else if c == "\"" { inQuotes.toggle() } else if c == ">" && !inQuotes {
                end = index
                break
            }
            index = text.index(after: index)
        }
        guard let end else { throw .syntax(usage) }
        let path = String(text[...end])
        let tail = text[text.index(after: end)...]
        guard tail.isEmpty || tail.first == " " else { throw .syntax(usage) }
        return (path, tail.split(separator: " ").map(String.init))
    }

    /// RFC 5321 §4.1.2 Path / Reverse-path.
    static func parsePath(_ path: String, allowNull: Bool, usage: String) throws(SMTPSyntaxError) -> SMTPPath {
        var inner = Substring(path.dropFirst().dropLast())
        if inner.isEmpty {
            guard allowNull else { throw .syntax(usage) }
            return .null
        }
        if !allowNull && inner.lowercased() == "postmaster" { return .postmaster }
        var hadRoute = false
        if inner.first == "@" {
            // A-d-l ":" — a source route: syntax-checked, then ignored.
            guard let colon = inner.firstIndex(of: ":") else { throw .syntax(usage) }
            for hop in inner[..<colon].split(separator: ",", omittingEmptySubsequences: false) {
                guard hop.first == "@", isDomain(hop.dropFirst()) else { throw .syntax(usage) }
            }
            inner = inner[inner.index(after: colon)...]
            hadRoute = true
        }
        var mailbox = try parseMailbox(inner, usage: usage)
        mailbox.hadSourceRoute = hadRoute
        return .mailbox(mailbox)
    }

    static func parseMailbox(_ text: Substring, usage: String) throws(SMTPSyntaxError) -> SMTPMailbox {
        guard let at = text.lastIndex(of: "@") else { throw .syntax(usage) }
        let localText = text[..<at]
        let domain = String(text[text.index(after: at)...])
        guard !domain.isEmpty, domain.utf8.count <= maximumDomainLength,
              isDomain(Substring(domain)) || isAddressLiteral(domain) else { throw .syntax(usage) }
        var local: String
        var quoted = false
        if localText.first == "\"" {
            guard localText.count >= 2, localText.last == "\"" else { throw .syntax(usage) }
            local = ""
            var escaped = false
            for c in localText.dropFirst().dropLast() {
                if escaped {
                    local.append(c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "\"" {
                    throw .syntax(usage)
                } else {
                    guard c.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value != 127 }) else { throw .syntax(usage) }
                    local.append(c)
                }
            }
            guard !escaped else { throw .syntax(usage) }
            quoted = !isDotString(Substring(local))
        } else {
            guard isDotString(localText) else { throw .syntax(usage) }
            local = String(localText)
        }
        guard !local.isEmpty || quoted, local.utf8.count <= maximumLocalPartLength else { throw .syntax(usage) }
        return SMTPMailbox(localPart: local, domain: domain, needsQuoting: quoted, hadSourceRoute: false)
    }

    /// RFC 5321 Dot-string, with UTF-8 allowed (RFC 6531 §3.3).
    static func isDotString(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.first != ".", text.last != "." else { return false }
        var previousDot = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
                continue
            }
            previousDot = false
            if byte >= 0x80 { continue }
            let isAlnum = (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
            guard isAlnum || "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte) else { return false }
        }
        return true
    }

    /// RFC 5321 Domain: labels of letters, digits and hyphens (UTF-8 U-labels allowed, RFC 6531).
    static func isDomain(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.utf8.count <= maximumDomainLength else { return false }
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty, label.utf8.count <= 63, label.first != "-", label.last != "-" else { return false }
            for byte in label.utf8 where byte < 0x80 {
                let ok = (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == UInt8(ascii: "-")
                if !ok { return false }
            }
        }
        return true
    }

    /// `[192.0.2.1]`, `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3), checked loosely: digits, dots,
    /// hex and colons inside brackets.
    static func isAddressLiteral(_ text: String) -> Bool {
        guard text.hasPrefix("["), text.hasSuffix("]"), text.count > 2, text.count <= 64 else { return false }
        var inner = text.dropFirst().dropLast()
        if inner.uppercased().hasPrefix("IPV6:") { inner = inner.dropFirst(5) }
        return inner.allSatisfy { $0.isHexDigit || $0 == "." || $0 == ":" }
    }

    static func mailParameters(_ words: [String]) throws(SMTPSyntaxError) -> MailParameters {
        var parameters = MailParameters()
        for word in words {
            let parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = parts[0].uppercased()
            let value = parts.count == 2 ? String(parts[1]) : nil
            switch key {
            case "SIZE":
                guard let value, value.count <= 18, value.allSatisfy(\.isASCIIDigit), let n = Int64(value) else {
                    throw .syntax("SIZE=number")
                }
                parameters.size = n
            case "BODY":
                switch value?.uppercased() {
                case "7BIT": parameters.body8bit = false
                case "8BITMIME": parameters.body8bit = true
                default: throw .unsupportedParameter(word)
                }
            case "SMTPUTF8":
                guard value == nil else { throw .syntax("SMTPUTF8 takes no value") }
                parameters.smtputf8 = true
            case "AUTH":
                // RFC 4954 §5: the submitter's identity, informational; accepted and not relayed.
                guard value != nil else { throw .syntax("AUTH=<mailbox>") }
            default:
                throw .unsupportedParameter(word)
            }
        }
        return parameters
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    func trimmingTrailingSpaces() -> Substring {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}
