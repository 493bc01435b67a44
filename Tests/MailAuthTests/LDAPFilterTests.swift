import MailAuth
import Testing

/// RFC 4515 escaping of login names in LDAP filters.
struct LDAPFilterTests {
    @Test func specialCharactersAreEscaped() {
        #expect(LDAPFilter.escape("alice@ldap.test") == "alice@ldap.test")
        #expect(LDAPFilter.escape("*") == "\\2a")
        #expect(LDAPFilter.escape("x)(uid=*") == "x\\29\\28uid=\\2a")
        #expect(LDAPFilter.escape("a\\b") == "a\\5cb")
        #expect(LDAPFilter.escape("a\u{0}b") == "a\\00b")
        #expect(LDAPFilter.escape("jöran") == "jöran")
    }

    @Test func templatesAreFilledWithEscapedValues() {
        let filter = LDAPFilter.expand("(&(objectClass=inetOrgPerson)(|(mail=%s)(uid=%u))(o=%d)(x=100%%))",
                                       address: "st*r@ldap.test", localPart: "st*r", domain: "ldap.test")
        #expect(filter == "(&(objectClass=inetOrgPerson)(|(mail=st\\2ar@ldap.test)(uid=st\\2ar))(o=ldap.test)(x=100%))")
        let injected = LDAPFilter.expand("(mail=%s)", address: "*)(objectClass=*", localPart: "", domain: "")
        #expect(injected == "(mail=\\2a\\29\\28objectClass=\\2a)")
    }

    @Test func templatesAreChecked() {
        #expect(LDAPFilter.isValidTemplate("(&(objectClass=inetOrgPerson)(mail=%s))"))
        #expect(LDAPFilter.isValidTemplate("(sAMAccountName=%u)"))
        #expect(!LDAPFilter.isValidTemplate("mail=%s"))
        #expect(!LDAPFilter.isValidTemplate("(mail=%s))("))
        #expect(!LDAPFilter.isValidTemplate("(objectClass=*)"))
    }

    @Test func settingsAreValidated() throws {
        var settings = LDAPSettings(uri: "ldap://127.0.0.1:389", baseDN: "dc=x")
        #expect(settings.problem() == nil)
        settings.bindDN = "cn=svc,dc=x"
        #expect(settings.problem() != nil)      // a bind DN without its password
        settings.bindPassword = ""
        #expect(settings.problem() != nil)      // an empty password would be an anonymous bind
        settings.bindPassword = "pw"
        #expect(settings.problem() == nil)
        settings.uri = "http://x"
        #expect(settings.problem() != nil)
        settings.uri = "ldaps://x"
        settings.startTLS = true
        #expect(settings.problem() != nil)
        let decoded = try LDAPSettings.decode(json: #"{"uri":"ldap://h","base_dn":"dc=x","user_filter":"(uid=%u)","pool_size":2}"#)
        #expect(decoded.effectiveUserFilter == "(uid=%u)" && decoded.effectivePoolSize == 2 && decoded.verifiesCertificates)
        #expect(try LDAPSettings.decode(json: decoded.json()) == decoded)
    }

    @Test func throttleDelaysGrowThenStop() {
        let settings = LoginThrottleSettings(delay: 1, maximumDelay: 8)
        #expect((1...7).map { settings.delay(afterFailures: $0) } == [0, 1, 2, 4, 8, 8, 8])
        #expect(LoginThrottle.clientKey("2001:db8:1:2:3:4:5:6") == "client:2001:db8:1:2:0:0:0:0/64")
        #expect(LoginThrottle.clientKey("192.0.2.7") == "client:192.0.2.7")
        #expect(LoginThrottle.accountKey("Alice@Example.TEST") == "account:alice@example.test")
        // Every spelling of one address shares its counter; a dual-stack IPv4 client is itself.
        #expect(LoginThrottle.accountKey("alice@example\u{3002}test.") == "account:alice@example.test")
        #expect(LoginThrottle.clientKey("::ffff:192.0.2.7") == "client:192.0.2.7")
    }
}
