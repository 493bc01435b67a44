import MailCore
import Testing

@Suite struct DomainNameTests {
    @Test(arguments: [
        ("Baidu.COM", "baidu.com"),
        ("baidu.com.", "baidu.com"),
        ("MAIL.Example.Test", "mail.example.test"),
        // RFC 3492 / IDNA: Unicode labels become A-labels, case-folded first.
        ("münchen.example", "xn--mnchen-3ya.example"),
        ("MÜNCHEN.example", "xn--mnchen-3ya.example"),
        ("bücher.example", "xn--bcher-kva.example"),
        // IANA's IDN test domain 例え.テスト.
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        // Ideographic full stop separates labels too.
        ("例え。テスト", "xn--r8jz45g.xn--zckzah"),
        // An A-label given as such is kept (lower-cased).
        ("XN--MNCHEN-3YA.example", "xn--mnchen-3ya.example"),
    ])
    func normalises(input: String, expected: String) throws {
        #expect(try DomainName(input).ascii == expected)
    }

    @Test func unicodeFormRoundTrips() throws {
        #expect(try DomainName("xn--r8jz45g.xn--zckzah").unicode == "例え.テスト")
        #expect(try DomainName("münchen.example") == DomainName("xn--mnchen-3ya.example"))
    }

    @Test(arguments: [
        ("", DomainName.Invalid.empty),
        (".", DomainName.Invalid.empty),
        ("a..b", DomainName.Invalid.emptyLabel),
        (".a.b", DomainName.Invalid.emptyLabel),
        ("-a.example", DomainName.Invalid.hyphenAtEdge("-a")),
        ("a-.example", DomainName.Invalid.hyphenAtEdge("a-")),
        ("under_score.example", DomainName.Invalid.badCharacter("under_score")),
        ("sp ace.example", DomainName.Invalid.badCharacter("sp ace")),
        ("a.123", DomainName.Invalid.singleLabelNumeric),
        ("xn--zz-.example", DomainName.Invalid.badPunycode("xn--zz-")),
        ("smile☺.example", DomainName.Invalid.badCharacter("smile☺")),
    ])
    func refuses(input: String, error: DomainName.Invalid) {
        #expect(throws: error) { try DomainName(input) }
    }

    @Test func onlyCanonicalALabels() throws {
        // An A-label whose Unicode form is not lower case, or holds a symbol, has a canonical
        // spelling elsewhere (or none): refused, so one domain is never stored under two names.
        let upper = "xn--" + Punycode.encode(Array("Ünchen".unicodeScalars))!
        #expect(throws: DomainName.Invalid.self) { try DomainName(upper + ".example") }
        let symbol = "xn--" + Punycode.encode(Array("smile☺".unicodeScalars))!
        #expect(throws: DomainName.Invalid.self) { try DomainName(symbol + ".example") }
        #expect(try DomainName("xn--mnchen-3ya.example").ascii == "xn--mnchen-3ya.example")
    }

    @Test func boundsLength() {
        #expect(throws: DomainName.Invalid.labelTooLong(String(repeating: "a", count: 64))) {
            try DomainName(String(repeating: "a", count: 64) + ".example")
        }
        let longName = Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: ".")
        #expect(throws: DomainName.Invalid.tooLong) { try DomainName(longName) }
        // Megabytes of input are refused before any Unicode work.
        #expect(throws: DomainName.Invalid.tooLong) { try DomainName(String(repeating: "ü", count: 1_000_000)) }
    }
}

@Suite struct PunycodeTests {
    // RFC 3492 §7.1 sample strings (a subset), encoded without the xn-- prefix.
    @Test(arguments: [
        ("bücher", "bcher-kva"),
        ("他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"),
        ("почемужеонинеговорятпорусски", "b1abfaaepdrnnbgefbadotcwatmq2g4l"),
        ("3年b組金八先生", "3b-ww4c5e180e575a65lsy2b"),
    ])
    func encodesAndDecodes(unicode: String, ascii: String) {
        #expect(Punycode.encode(Array(unicode.unicodeScalars)) == ascii)
        #expect(Punycode.decode(ascii).map { String(String.UnicodeScalarView($0)) } == unicode)
    }

    @Test func refusesHostileInput() {
        #expect(Punycode.encode(Array(String(repeating: "ü", count: 64).unicodeScalars)) == nil)
        #expect(Punycode.decode("99999999999999999999") == nil)
        #expect(Punycode.decode("ü") == nil)
        #expect(Punycode.decode(String(repeating: "a", count: 300)) == nil)
    }
}
