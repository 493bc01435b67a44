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
    /// A text with more distinct words than this gets no index entry (it is always scanned).
    public static let maximumWords = 3000

    /// The words the store indexes for a message whose search text is `texts` (migration 0006):
    /// the distinct runs of ASCII letters and digits, lower-cased and cut to `maximumLength`;
    /// empty when there are none or more than `maximumWords`. `nil` when a text has a
    /// character outside ASCII: what `lower()` and `[[:alnum:]]` make of it is the database's
    /// to say, so the database makes the words then.
    public static func indexWords(_ texts: String...) -> [String]? {
        var words = Set<String>()
        for text in texts {
            let ascii = text.utf8.withContiguousStorageIfAvailable { collect($0, into: &words) }
                ?? Array(text.utf8).withUnsafeBufferPointer { collect($0, into: &words) }
            guard ascii else { return nil }
            if words.count > maximumWords { return [] }
        }
        return words.sorted()
    }

    /// Adds the lower-cased runs of `bytes` to `words`; false (and stops) at a non-ASCII byte.
    private static func collect(_ bytes: UnsafeBufferPointer<UInt8>, into words: inout Set<String>) -> Bool {
        var run: [UInt8] = []
        run.reserveCapacity(maximumLength)
        func flush() {
            if !run.isEmpty { words.insert(String(decoding: run.prefix(maximumLength), as: UTF8.self)) }
            run.removeAll(keepingCapacity: true)
        }
        for byte in bytes {
            switch byte {
            case 0x30...0x39, 0x61...0x7A: run.append(byte)
            case 0x41...0x5A: run.append(byte | 0x20)
            case 0x80...: return false
            default: flush()
            }
        }
        flush()
        return true
    }

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
