/// Splits a SQL script into statements at top-level semicolons.
///
/// PostgresNIO speaks only the extended query protocol, which takes one statement at a time, so
/// a migration file is sent statement by statement. The splitter understands what can hide a
/// semicolon: 'strings' (with '' escapes), E'strings' (with backslash escapes), "identifiers",
/// -- line comments, /* nested block comments */ and $tag$ dollar quotes $tag$.
public enum SQLScript {
    public static func statements(_ script: String) -> [String] {
        let bytes = Array(script.utf8)
        var statements: [String] = []
        var start = 0
        var i = 0
        var hasContent = false

        func flush(upTo end: Int) {
            if hasContent {
                let text = String(decoding: bytes[start..<end], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                if !text.isEmpty { statements.append(text) }
            }
            hasContent = false
        }

        while i < bytes.count {
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "-") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "-"):
                while i < bytes.count && bytes[i] != UInt8(ascii: "\n") { i += 1 }
                continue
            case UInt8(ascii: "/") where i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "*"):
                var depth = 0
                while i < bytes.count {
                    if bytes[i] == UInt8(ascii: "/") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "*") {
                        depth += 1; i += 2; continue
                    }
                    if bytes[i] == UInt8(ascii: "*") && i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "/") {
                        depth -= 1; i += 2
                        if depth == 0 { break }
                        continue
                    }
                    i += 1
                }
                continue
            case UInt8(ascii: "'"):
                hasContent = true
                // E'…' only when the E is a token of its own (not the end of an identifier like LIKE).
                let escapes = i > 0 && (bytes[i - 1] == UInt8(ascii: "E") || bytes[i - 1] == UInt8(ascii: "e"))
                    && (i < 2 || !isTagByte(bytes[i - 2]))
                i += 1
                while i < bytes.count {
                    if escapes && bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
                    if bytes[i] == UInt8(ascii: "'") {
                        if i + 1 < bytes.count && bytes[i + 1] == UInt8(ascii: "'") { i += 2; continue }
                        break
                    }
                    i += 1
                }
                i += 1
                continue
            case UInt8(ascii: "\""):
                hasContent = true
                i += 1
                while i < bytes.count && bytes[i] != UInt8(ascii: "\"") { i += 1 }
                i += 1
                continue
            case UInt8(ascii: "$") where i > 0 && isTagByte(bytes[i - 1]):
                // '$' inside an identifier (a$b) or a parameter ($1) starts no quote.
                hasContent = true
                i += 1
                continue
            case UInt8(ascii: "$"):
                hasContent = true
                // $tag$ where tag is empty or an identifier not starting with a digit.
                var j = i + 1
                while j < bytes.count, isTagByte(bytes[j]), !(j == i + 1 && bytes[j] >= 0x30 && bytes[j] <= 0x39) { j += 1 }
                if j < bytes.count && bytes[j] == UInt8(ascii: "$") {
                    let tag = Array(bytes[i...j])
                    var k = j + 1
                    while k + tag.count <= bytes.count && Array(bytes[k..<(k + tag.count)]) != tag { k += 1 }
                    i = min(bytes.count, k + tag.count)
                    continue
                }
                i += 1
                continue
            case UInt8(ascii: ";"):
                flush(upTo: i)
                start = i + 1
                i += 1
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                i += 1
                continue
            default:
                hasContent = true
                i += 1
            }
        }
        flush(upTo: bytes.count)
        return statements
    }

    static func isTagByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_") || b >= 0x80
    }
}
