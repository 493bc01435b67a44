import MIME
import Testing

/// The word prefixes a needle proves (the store's property test is
/// MailStoreTests.MessageSearchTests.everySubstringIsFound).
@Suite struct SearchWordsTests {
    @Test func requiredPrefixes() {
        #expect(SearchWords.requiredPrefixes("quarterly") == [])           // no separator: proves nothing
        #expect(SearchWords.requiredPrefixes("rterly numbers ar") == ["ar", "numbers"])
        #expect(SearchWords.requiredPrefixes(" Quart") == ["quart"])
        #expect(SearchWords.requiredPrefixes("alice@example.COM") == ["com", "example"])
        #expect(SearchWords.requiredPrefixes("naïve approach") == [])       // not ASCII: no prefilter
        #expect(SearchWords.requiredPrefixes(" " + String(repeating: "B", count: 100)) == [String(repeating: "b", count: 64)])
    }
}
