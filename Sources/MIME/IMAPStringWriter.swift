/// Writes IMAP strings (RFC 3501 §4.3) exactly as Dovecot does, so that ENVELOPE and
/// BODYSTRUCTURE are byte-identical to it: a quoted string when it can be one, a literal
/// `{n}\r\n…` when the text has CR, LF or 8-bit bytes, or more than four characters that
/// would need a backslash. A NUL byte cannot travel in either form and becomes U+FFFD.
public struct IMAPStringWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    mutating func append(_ text: String) { bytes.append(contentsOf: Array(text.utf8)) }
    mutating func append(_ byte: UInt8) { bytes.append(byte) }

    /// `NIL` or the string.
    mutating func nstring(_ value: [UInt8]?) {
        guard let value else { append("NIL"); return }
        string(value)
    }

    /// As `nstring`, with line breaks removed first (folded header values).
    mutating func nstringUnfolded(_ value: [UInt8]?) {
        guard let value else { append("NIL"); return }
        string(HeaderField.unfold(value))
    }

    mutating func string(_ raw: [UInt8]) {
        let value = raw.contains(0) ? IMAPStringWriter.replacingNUL(raw) : raw
        var escapes = 0
        for byte in value {
            switch byte {
            case ASCII.dquote, ASCII.backslash:
                escapes += 1
                if escapes > 4 { literal(value); return }
            case ASCII.cr, ASCII.lf:
                literal(value); return
            default:
                if byte >= 0x80 { literal(value); return }
            }
        }
        bytes.append(ASCII.dquote)
        for byte in value {
            if byte == ASCII.dquote || byte == ASCII.backslash { bytes.append(ASCII.backslash) }
            bytes.append(byte)
        }
        bytes.append(ASCII.dquote)
    }

    /// Text meant for people (Subject, display names), cleaned as Dovecot cleans it: line
    /// breaks and tabs become spaces, runs of whitespace collapse, leading and trailing
    /// whitespace goes, NUL becomes 0x80. Unchanged text is sent quoted as it is; changed text,
    /// or text with 8-bit bytes, quotes or backslashes, as a literal (never escaped).
    mutating func humanString(_ value: [UInt8]) {
        // Header values reach here with NUL already turned into U+FFFD, as Dovecot's do.
        let value = value.contains(0) ? IMAPStringWriter.replacingNUL(value) : value
        var modify = false
        var lastSpace = true
        var leading = true
        var removed = 0
        for byte in value {
            switch byte {
            case 0:
                lastSpace = false
                modify = true
            case ASCII.cr, ASCII.lf, ASCII.tab, ASCII.space:
                if byte != ASCII.space { modify = true }
                if lastSpace { modify = true; removed += 1 }
                lastSpace = true
            case ASCII.dquote, ASCII.backslash:
                modify = true
                lastSpace = false
            default:
                if byte >= 0x80 { modify = true }
                lastSpace = false
            }
            if !lastSpace { leading = false }
        }
        if lastSpace && !value.isEmpty && !leading {
            modify = true
            removed += 1
        }
        if !modify {
            bytes.append(ASCII.dquote)
            bytes.append(contentsOf: value)
            bytes.append(ASCII.dquote)
            return
        }
        if value.count == removed { append("\"\""); return }
        append("{\(value.count - removed)}\r\n")
        lastSpace = true
        leading = true
        for byte in value {
            switch byte {
            case 0:
                bytes.append(0x80)
                lastSpace = false
            case ASCII.cr, ASCII.lf, ASCII.tab, ASCII.space:
                if !lastSpace { bytes.append(ASCII.space) }
                lastSpace = true
            default:
                lastSpace = false
                bytes.append(byte)
            }
            if !lastSpace { leading = false }
        }
        if lastSpace && !value.isEmpty && !leading { bytes.removeLast() }
    }

    private mutating func literal(_ value: [UInt8]) {
        append("{\(value.count)}\r\n")
        bytes.append(contentsOf: value)
    }

    static func replacingNUL(_ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(value.count + 8)
        for byte in value {
            if byte == 0 { out.append(contentsOf: [0xEF, 0xBF, 0xBD]) } else { out.append(byte) }
        }
        return out
    }
}
