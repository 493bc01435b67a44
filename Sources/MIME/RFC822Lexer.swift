/// The RFC 5322 / RFC 2045 lexical layer used for structured header fields: comments, atoms,
/// dot-atoms, quoted strings, MIME tokens, phrases and domains.
///
/// Results follow one convention throughout, so that callers can tell "stopped at the end of
/// the field" from "stopped in front of more input":
/// `.failed` — syntax error; `.end` — parsed, nothing follows; `.more` — parsed, input follows.
/// Whitespace, folding line breaks and comments after a token are skipped (CFWS), and the last
/// comment seen is remembered because a lone comment after an address names its owner
/// (`user@example.org (Ann Example)`).
struct RFC822Lexer {
    enum Result: Equatable { case failed, end, more }

    let bytes: [UInt8]
    var position: Int
    let end: Int
    /// When non-nil, the text of the most recent comment.
    var lastComment: [UInt8]?

    init(_ bytes: [UInt8], rememberComments: Bool = false) {
        self.bytes = bytes
        self.position = 0
        self.end = bytes.count
        self.lastComment = rememberComments ? [] : nil
    }

    var atEnd: Bool { position >= end }
    var current: UInt8? { position < end ? bytes[position] : nil }

    private var status: Result { position < end ? .more : .end }

    /// Skips one comment, nested parentheses and quoted pairs included.
    mutating func skipComment() -> Result {
        if lastComment != nil { lastComment = [] }
        var level = 1
        position += 1
        var start = position
        while position < end {
            switch bytes[position] {
            case UInt8(ascii: "("):
                level += 1
            case UInt8(ascii: ")"):
                level -= 1
                if level == 0 {
                    lastComment?.append(contentsOf: bytes[start..<position])
                    position += 1
                    return status
                }
            case ASCII.backslash:
                lastComment?.append(contentsOf: bytes[start..<position])
                start = position + 1
                position += 1
                if position >= end { return .failed }
            default:
                break
            }
            position += 1
        }
        return .failed
    }

    /// Skips whitespace, line breaks and comments.
    @discardableResult
    mutating func skipCFWS() -> Result {
        while position < end {
            let byte = bytes[position]
            if ASCII.isWhitespace(byte) { position += 1; continue }
            guard byte == UInt8(ascii: "(") else { break }
            if skipComment() == .failed { return .failed }
        }
        return status
    }

    mutating func atom(into out: inout [UInt8]) -> Result {
        guard let byte = current, ASCII.isAtext(byte) else { return .failed }
        let start = position
        position += 1
        while position < end, ASCII.isAtext(bytes[position]) { position += 1 }
        out.append(contentsOf: bytes[start..<position])
        return position < end ? skipCFWS() : .end
    }

    /// `dot-atom`, allowing whitespace around the dots as RFC 822 did.
    mutating func dotAtom(into out: inout [UInt8]) -> Result {
        guard let byte = current, ASCII.isAtext(byte) else { return .failed }
        var start = position
        position += 1
        while position < end {
            if ASCII.isAtext(bytes[position]) { position += 1; continue }
            out.append(contentsOf: bytes[start..<position])
            let skipped = skipCFWS()
            if skipped != .more { return skipped }
            if bytes[position] != UInt8(ascii: ".") { return .more }
            position += 1
            out.append(UInt8(ascii: "."))
            let afterDot = skipCFWS()
            if afterDot != .more { return afterDot }
            start = position
        }
        out.append(contentsOf: bytes[start..<position])
        return .end
    }

    /// A MIME token (RFC 2045 §5.1); may be empty.
    mutating func mimeToken(into out: inout [UInt8]) -> Result {
        let start = position
        while position < end, ASCII.isTokenByte(bytes[position]) { position += 1 }
        out.append(contentsOf: bytes[start..<position])
        return position < end ? skipCFWS() : .end
    }

    /// A quoted string without its quotes; quoted pairs unescaped, folding line breaks removed.
    mutating func quotedString(into out: inout [UInt8]) -> Result {
        position += 1
        var start = position
        while position < end {
            switch bytes[position] {
            case ASCII.dquote:
                out.append(contentsOf: bytes[start..<position])
                position += 1
                return skipCFWS()
            case ASCII.lf:
                var length = position - start
                if length > 0, bytes[start + length - 1] == ASCII.cr { length -= 1 }
                out.append(contentsOf: bytes[start..<(start + length)])
                start = position + 1
            case ASCII.backslash:
                position += 1
                if position >= end { return .failed }
                out.append(contentsOf: bytes[start..<(position - 1)])
                start = position
            default:
                break
            }
            position += 1
        }
        return .failed
    }

    private mutating func atomOrDot(into out: inout [UInt8]) -> Result {
        let start = position
        while position < end, ASCII.isAtext(bytes[position]) || bytes[position] == UInt8(ascii: ".") { position += 1 }
        out.append(contentsOf: bytes[start..<position])
        return position < end ? skipCFWS() : .end
    }

    /// `phrase` (and obs-phrase): words joined by single spaces.
    mutating func phrase(into out: inout [UInt8]) -> Result {
        guard let first = current else { return .end }
        if first == UInt8(ascii: ".") { return .failed }
        while true {
            let result = bytes[position] == ASCII.dquote ? quotedString(into: &out) : atomOrDot(into: &out)
            if result != .more { return result }
            let next = bytes[position]
            if !ASCII.isAtext(next) && next != ASCII.dquote && next != UInt8(ascii: ".") { break }
            out.append(ASCII.space)
        }
        return skipCFWS()
    }

    private mutating func domainLiteral(into out: inout [UInt8]) -> Result {
        let start = position
        while position < end {
            if bytes[position] == ASCII.backslash {
                position += 1
                if position >= end { break }
            } else if bytes[position] == UInt8(ascii: "]") {
                position += 1
                out.append(contentsOf: bytes[start..<position])
                return skipCFWS()
            }
            position += 1
        }
        return .failed
    }

    /// `"@" domain`; the current byte must be '@'.
    mutating func domain(into out: inout [UInt8]) -> Result {
        position += 1
        if skipCFWS() != .more { return .failed }
        return bytes[position] == UInt8(ascii: "[") ? domainLiteral(into: &out) : dotAtom(into: &out)
    }

    /// `type "/" subtype` of Content-Type (RFC 2045 §5.1). On failure `out` holds what was read.
    mutating func contentType(into out: inout [UInt8]) -> Result {
        if skipCFWS() != .more { return .failed }
        if mimeToken(into: &out) != .more { return .failed }
        guard bytes[position] == UInt8(ascii: "/") else { return .failed }
        position += 1
        if skipCFWS() != .more { return .failed }
        out.append(UInt8(ascii: "/"))
        return mimeToken(into: &out)
    }

    /// One `";" attribute "=" value` parameter. `nil` when the input is exhausted.
    mutating func contentParameter() -> (result: Result, key: [UInt8], value: [UInt8])? {
        guard position < end else { return nil }
        guard bytes[position] == ASCII.semicolon else { return (.failed, [], []) }
        position += 1
        if skipCFWS() != .more { return (.failed, [], []) }
        var key: [UInt8] = []
        if mimeToken(into: &key) != .more { return (.failed, [], []) }
        guard bytes[position] == UInt8(ascii: "=") else { return (.failed, [], []) }
        position += 1
        var value: [UInt8] = []
        var result = skipCFWS()
        if result != .more {
            // broken: no value
        } else if bytes[position] == ASCII.dquote {
            result = quotedString(into: &value)
        } else if bytes[position] == UInt8(ascii: "=") {
            // Broken but common: name==?utf-8?b?...?= — take the word as it is.
            while position < end, bytes[position] != ASCII.semicolon, !ASCII.isWhitespace(bytes[position]) {
                value.append(bytes[position])
                position += 1
            }
        } else {
            result = mimeToken(into: &value)
        }
        return (result == .failed ? .failed : .more, key, value)
    }
}
