import MailCore
import Testing

@Suite struct EmailAddressTests {
    @Test func canonicalForm() throws {
        let a = try EmailAddress("MaoMao@Baidu.COM")
        #expect(a.localPart == "maomao")
        #expect(a.domain.ascii == "baidu.com")
        #expect(a.description == "maomao@baidu.com")
        #expect(try EmailAddress("user@münchen.example").description == "user@xn--mnchen-3ya.example")
        #expect(try EmailAddress("first.last+tag@example.test").localPart == "first.last+tag")
    }

    @Test(arguments: ["", "user", "@example.test", "user@", ".user@example.test", "user.@example.test",
                      "us..er@example.test", "us er@example.test", "us\"er@example.test", "user@exa mple.test",
                      "a(b)@example.test"])
    func refuses(input: String) {
        #expect(throws: EmailAddress.Invalid.self) { try EmailAddress(input) }
    }

    @Test func boundsLocalPart() throws {
        _ = try EmailAddress(String(repeating: "a", count: 64) + "@example.test")
        #expect(throws: EmailAddress.Invalid.localPartTooLong) { try EmailAddress(String(repeating: "a", count: 65) + "@example.test") }
        #expect(throws: EmailAddress.Invalid.localPartTooLong) { try EmailAddress(String(repeating: "a", count: 100_000)) }
    }

    @Test func subaddress() throws {
        let plus: Set<Character> = ["+"]
        #expect(try EmailAddress("user+tag@d.test").withoutSubaddress(delimiters: plus) == EmailAddress("user@d.test"))
        #expect(try EmailAddress("user+a+b@d.test").withoutSubaddress(delimiters: plus) == EmailAddress("user@d.test"))
        #expect(try EmailAddress("user@d.test").withoutSubaddress(delimiters: plus) == nil)
        #expect(try EmailAddress("+tag@d.test").withoutSubaddress(delimiters: plus) == nil)
        #expect(try EmailAddress("user-tag@d.test").withoutSubaddress(delimiters: ["+", "-"]) == EmailAddress("user@d.test"))
        #expect(try EmailAddress("user+tag@d.test").withoutSubaddress(delimiters: []) == nil)
    }

    @Test func aliasSource() throws {
        #expect(try AliasSource("@Group.COM") == .catchAll(DomainName("group.com")))
        #expect(try AliasSource("Admin@group.com").description == "admin@group.com")
        #expect(throws: EmailAddress.Invalid.self) { try AliasSource("@") }
    }

    @Test func passwordHashFormat() {
        #expect(PasswordHashFormat.schemeName(of: "{sha512-crypt}$6$x$y") == "SHA512-CRYPT")
        #expect(PasswordHashFormat.schemeName(of: "$2y$05$abc") == "BLF-CRYPT")
        #expect(PasswordHashFormat.schemeName(of: "$y$j9T$abc") == "CRYPT")
        #expect(PasswordHashFormat.schemeName(of: "$argon2id$v=19$") == "ARGON2ID")
        #expect(PasswordHashFormat.split("{}x").scheme == nil)
    }
}
