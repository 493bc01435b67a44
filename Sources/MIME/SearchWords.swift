/// The word prefixes a substring search can rely on, for the index that prefilters SEARCH
/// BODY / TEXT (RFC 3501 §6.4.4: case-insensitive substring). The store indexes the runs of
/// letters and digits of `lower(text)` (migration 0005); the exact answer always comes from
/// the substring test on the same `lower(text)`.
///
/// Why the prefilter is sound: when a text contains the needle `x.example`, the run `example`
/// starts a word of the text — it follows `.` there too — so the text has a word beginning
/// with `example`. Every run of the needle that follows a separator inside the needle gives
/// such a required prefix. Only pure-ASCII needles are used this way (ASCII letters and digits
/// are the same run characters and lower-case the same everywhere); any other needle, or one
/// with no separator, is searched without the prefilter.
public enum SearchWords {
    /// Indexed words are cut to this many characters (their start kept).
    public static let maximumLength = 64

    /// The word prefixes every text containing `needle` has (lower-cased); empty when the
    /// needle proves nothing.
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
