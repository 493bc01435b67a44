/// RFC 2047 encoded-words (`=?charset?B?…?=`, `=?charset?Q?…?=`) in unstructured header text,
/// decoded to UTF-8. Whitespace between two adjacent encoded-words is dropped (§6.2); adjacent
/// words in one charset are joined before conversion, so a multi-byte character split across
/// two words (common with GBK and UTF-8 mailers) comes out whole. Malformed words stay as text.
public enum EncodedWords {
    static let maxDecodedLength = 64 * 1024
    /// RFC 2047 §2 limits an encoded-word to 75 characters; allow generously more.
    static let maxWordLength = 256

    public static func decode(_ bytes: [UInt8]) -> String {
        // Longer values are not searched for encoded-words: a real header never needs it, and
        // the scan below must stay cheap on hostile input.
        guard bytes.count >= 8, bytes.count <= maxDecodedLength, containsMarker(bytes) else {
            return Charsets.decodeUnlabelled(bytes)
        }
        var result = ""
        var pendingText: [UInt8] = []          // literal text not yet emitted
        var pendingWord: (charset: String, bytes: [UInt8])?
        var whitespaceSinceWord: [UInt8] = []
        var index = 0

        func flushWord() {
            if let word = pendingWord {
                result += Charsets.decode(word.bytes, charset: word.charset)
                pendingWord = nil
            }
        }

        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "="), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "?"),
               let word = parseWord(bytes, at: index) {
                if pendingWord != nil, pendingText.isEmpty {
                    // Only whitespace since the previous word: drop it (RFC 2047 §6.2).
                    whitespaceSinceWord.removeAll()
                } else {
                    flushWord()
                    result += Charsets.decodeUnlabelled(pendingText + whitespaceSinceWord)
                    pendingText.removeAll()
                    whitespaceSinceWord.removeAll()
                }
                if var open = pendingWord, Charsets.canonicalName(open.charset) == Charsets.canonicalName(word.charset) {
                    pendingWord = nil          // so that the append below does not copy the buffer
                    open.bytes += word.decoded
                    pendingWord = open
                } else {
                    flushWord()
                    pendingWord = (word.charset, word.decoded)
                }
                index = word.end
                continue
            }
            let byte = bytes[index]
            if pendingWord != nil && pendingText.isEmpty && (byte == ASCII.space || byte == ASCII.tab || byte == ASCII.cr || byte == ASCII.lf) {
                whitespaceSinceWord.append(byte)
            } else {
                if pendingWord != nil && pendingText.isEmpty {
                    flushWord()
                    pendingText = whitespaceSinceWord
                    whitespaceSinceWord.removeAll()
                }
                pendingText.append(byte)
            }
            index += 1
        }
        flushWord()
        result += Charsets.decodeUnlabelled(pendingText + whitespaceSinceWord)
        return result
    }

    private static func containsMarker(_ bytes: [UInt8]) -> Bool {
        var index = 0
        while index + 1 < bytes.count {
            if bytes[index] == UInt8(ascii: "="), bytes[index + 1] == UInt8(ascii: "?") { return true }
            index += 1
        }
        return false
    }

    private struct Word {
        var charset: String
        var decoded: [UInt8]
        var end: Int
    }

    /// `=?charset?encoding?text?=` starting at `start`; words may not contain whitespace.
    private static func parseWord(_ bytes: [UInt8], at start: Int) -> Word? {
        var index = start + 2
        let limit = min(bytes.count, start + maxWordLength)
        func field() -> ArraySlice<UInt8>? {
            let begin = index
            while index < limit, bytes[index] != UInt8(ascii: "?") {
                if bytes[index] <= ASCII.space || bytes[index] >= 0x7F { return nil }
                index += 1
            }
            guard index < limit else { return nil }
            defer { index += 1 }
            return bytes[begin..<index]
        }
        guard let charset = field(), !charset.isEmpty, let encoding = field(), encoding.count == 1 else { return nil }
        let textStart = index
        while index + 1 < limit, !(bytes[index] == UInt8(ascii: "?") && bytes[index + 1] == UInt8(ascii: "=")) {
            if bytes[index] <= ASCII.space || bytes[index] >= 0x7F { return nil }
            index += 1
        }
        guard index + 1 < limit else { return nil }
        let text = Array(bytes[textStart..<index])
        let decoded: [UInt8]?
        switch ASCII.lower(encoding.first!) {
        case UInt8(ascii: "b"): decoded = TransferEncoding.decodeBase64(text, strict: true)
        case UInt8(ascii: "q"): decoded = TransferEncoding.decodeQuotedPrintable(text, headerForm: true)
        default: decoded = nil
        }
        guard let decoded else { return nil }
        return Word(charset: String(decoding: charset, as: UTF8.self), decoded: decoded, end: index + 2)
    }
}
