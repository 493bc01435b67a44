/// The words of a message's search text, for the index that prefilters SEARCH BODY / TEXT
/// (RFC 3501 §6.4.4: case-insensitive substring). A word is a run of letters and digits,
/// lower-cased and cut to `maximumLength` characters (its start kept).
///
/// Why a substring search may use it: when a text contains the needle `x.example`, the run
/// `example` starts a word of the text — it follows `.` there too — so the text has a word
/// beginning with `example`. Every run of the needle that follows a separator inside the
/// needle gives such a required word prefix. Only pure-ASCII needles are used this way, so
/// case mapping and character boundaries cannot differ between the needle and the text; any
/// other needle, or one with no separator, searches without the prefilter. The exact answer
/// always comes from the substring test itself.
public enum SearchWords {
    public static let maximumLength = 64
    public static let maximumWords = 10_000

    /// Distinct words of the texts; nil when there are more than `maximumWords` (then the
    /// message is always checked by substring).
    public static func of(_ texts: [String]) -> [String]? {
        var words = Set<String>()
        for text in texts {
            var current = ""
            func flush() {
                guard !current.isEmpty else { return }
                words.insert(String(current.lowercased().prefix(maximumLength)))
                current = ""
            }
            for character in text {
                if character.isLetter || character.isNumber {
                    current.append(character)
                } else {
                    flush()
                }
            }
            flush()
            if words.count > maximumWords { return nil }
        }
        return words.sorted()
    }

    /// The word prefixes every text containing `needle` has (lower-cased); empty when the
    /// needle proves nothing (see above).
    public static func requiredPrefixes(_ needle: String) -> [String] {
        guard needle.utf8.allSatisfy({ $0 < 0x80 }) else { return [] }
        var out: [String] = []
        var current = ""
        var afterSeparator = false
        func flush() {
            if afterSeparator && !current.isEmpty { out.append(String(current.lowercased().prefix(maximumLength))) }
            current = ""
        }
        for byte in needle.utf8 {
            let alnum = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            if alnum {
                current.append(Character(UnicodeScalar(byte)))
            } else {
                flush()
                afterSeparator = true
            }
        }
        flush()
        return Array(Set(out)).sorted()
    }
}
