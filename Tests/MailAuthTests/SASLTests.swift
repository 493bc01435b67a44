import MailAuth
import Testing

struct SASLTests {
    @Test func plain() {
        var exchange = SASLExchange(mechanism: .plain)
        #expect(exchange.start(initialResponse: nil) == .challenge([]))
        #expect(exchange.respond(Array("\0user@x.test\0pw".utf8)) == .credentials(.init(username: "user@x.test", password: "pw")))
        var same = SASLExchange(mechanism: .plain)
        #expect(same.start(initialResponse: Array("User@x.test\0user@x.test\0pw".utf8)) == .credentials(.init(username: "user@x.test", password: "pw")))
        for bad in ["other@x.test\0user@x.test\0pw", "user@x.test\0pw", "\0\0pw", ""] {
            var e = SASLExchange(mechanism: .plain)
            guard case .malformed = e.start(initialResponse: Array(bad.utf8)) else {
                Issue.record("accepted \(bad.debugDescription)")
                continue
            }
        }
        var huge = SASLExchange(mechanism: .plain)
        guard case .malformed = huge.start(initialResponse: Array(repeating: 0x41, count: 10_000)) else {
            Issue.record("accepted a 10,000-byte response")
            return
        }
    }

    @Test func login() {
        var exchange = SASLExchange(mechanism: .login)
        #expect(exchange.start(initialResponse: nil) == .challenge(Array("Username:".utf8)))
        #expect(exchange.respond(Array("u@x.test".utf8)) == .challenge(Array("Password:".utf8)))
        #expect(exchange.respond(Array("secret".utf8)) == .credentials(.init(username: "u@x.test", password: "secret")))
        var withInitial = SASLExchange(mechanism: .login)
        #expect(withInitial.start(initialResponse: Array("u@x.test".utf8)) == .challenge(Array("Password:".utf8)))
        #expect(SASLMechanism(name: "login") == .login && SASLMechanism(name: "CRAM-MD5") == nil)
    }
}
