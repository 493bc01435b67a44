import MIME
import Testing

/// The word index behind SEARCH BODY/TEXT may only ever rule out messages that lack the
/// substring: every required prefix of a needle must start a word of any text containing it.
@Suite struct SearchWordsTests {
    @Test func wordsAndPrefixes() {
        #expect(SearchWords.of(["Hello, World! 42x café", "x.example.com"]) == ["42x", "café", "com", "example", "hello", "world", "x"])
        #expect(SearchWords.requiredPrefixes("quarterly") == [])           // no separator: proves nothing
        #expect(SearchWords.requiredPrefixes("rterly numbers ar") == ["ar", "numbers"])
        #expect(SearchWords.requiredPrefixes(" Quart") == ["quart"])
        #expect(SearchWords.requiredPrefixes("alice@example.COM") == ["com", "example"])
        #expect(SearchWords.requiredPrefixes("naïve approach") == [])       // not ASCII: no prefilter
        #expect(SearchWords.of([String(repeating: "a", count: 100)]) == [String(repeating: "a", count: 64)])
        #expect(SearchWords.requiredPrefixes(" " + String(repeating: "B", count: 100)) == [String(repeating: "b", count: 64)])
    }

    /// For many needles cut from many texts: each required prefix starts some word of the text.
    @Test func requiredPrefixesHoldForEverySubstring() {
        let texts = ["The quarterly numbers are in: alice@example.com wrote 3.14 times.",
                     "Grüße aus Zürich — naïve café-owner's e-mail: x_y@z.test!",
                     "<p>HTML&nbsp;body</p> tab\there, CRLF\r\nnext line;semi;colons",
                     String(repeating: "x", count: 80) + " tail"]
        for text in texts {
            let words = SearchWords.of([text]) ?? []
            let characters = Array(text)
            for start in 0..<characters.count {
                for length in 1...min(24, characters.count - start) {
                    let needle = String(characters[start..<(start + length)])
                    for prefix in SearchWords.requiredPrefixes(needle) {
                        #expect(words.contains { $0.hasPrefix(prefix) }, "needle \(needle.debugDescription) needs \(prefix) in \(text)")
                    }
                }
            }
        }
    }
}
