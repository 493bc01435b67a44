import Crypto
import Foundation
@testable import MailAuth
import Testing

/// SCRAM-SHA-256 (RFC 7677, RFC 5802) on the server side, checked against RFC 7677 §3's example.
struct SCRAMTests {
    static let rfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static func rfcSecrets() throws -> SCRAMSecrets {
        try SCRAMSecrets.derive(password: "pencil", salt: Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!), iterations: 4096)
    }

    /// The exact messages of RFC 7677 §3: user "user", password "pencil".
    @Test func rfc7677TestVector() throws {
        var exchange = SASLExchange(scramServerNonce: Self.rfcServerNonce)
        #expect(exchange.start(initialResponse: Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8)) == .needSCRAMSecrets(username: "user"))
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        #expect(exchange.provide(try Self.rfcSecrets()) == .challenge(Array(serverFirst.utf8)))
        let clientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        #expect(exchange.respond(Array(clientFinal.utf8)) == .challenge(Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8)))
        #expect(exchange.respond([]) == .authenticated(username: "user"))
    }

    /// Stored secrets survive their text form, and the text form is Dovecot's.
    @Test func secretsRoundTrip() throws {
        let secrets = try Self.rfcSecrets()
        #expect(secrets.stored.hasPrefix("4096,W22ZaJ0SNY7soEsUEjb6gQ==,"))
        #expect(SCRAMSecrets(stored: secrets.stored) == secrets)
        for bad in ["", "4096,a,b", "10,W22ZaJ0SNY7soEsUEjb6gQ==,\(Data(secrets.storedKey).base64EncodedString()),\(Data(secrets.serverKey).base64EncodedString())",
                    "4096,W22ZaJ0SNY7soEsUEjb6gQ==,AAAA,AAAA"] {
            #expect(SCRAMSecrets(stored: bad) == nil, "accepted \(bad)")
        }
    }

    @Test func aWrongProofFailsAndSendsNoSignature() throws {
        var exchange = SASLExchange(scramServerNonce: Self.rfcServerNonce)
        _ = exchange.start(initialResponse: Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8))
        _ = exchange.provide(try SCRAMSecrets.derive(password: "not pencil", salt: Array(Data(base64Encoded: "W22ZaJ0SNY7soEsUEjb6gQ==")!), iterations: 4096))
        let clientFinal = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        #expect(exchange.respond(Array(clientFinal.utf8)) == .failed(username: "user", reason: "wrong password"))
    }

    /// A login without secrets still gets a server-first message (with a salt that does not
    /// change between attempts), and then fails: the exchange does not tell who exists.
    @Test func anUnknownLoginRunsToTheEndAndFails() throws {
        func serverFirst() -> String {
            var exchange = SASLExchange(mechanism: .scramSHA256)
            _ = exchange.start(initialResponse: Array("n,,n=nobody@x.test,r=abc".utf8))
            guard case .challenge(let bytes) = exchange.provide(nil) else { return "" }
            return String(decoding: bytes, as: UTF8.self)
        }
        let first = serverFirst()
        let second = serverFirst()
        #expect(first.contains(",s=") && first.hasSuffix(",i=4096"))
        #expect(first.split(separator: ",")[1] == second.split(separator: ",")[1])
        var exchange = SASLExchange(scramServerNonce: "xyz")
        _ = exchange.start(initialResponse: Array("n,,n=nobody@x.test,r=abc".utf8))
        _ = exchange.provide(nil)
        let proof = Data(repeating: 7, count: 32).base64EncodedString()
        #expect(exchange.respond(Array("c=biws,r=abcxyz,p=\(proof)".utf8)) == .failed(username: "nobody@x.test", reason: "no SCRAM secrets for this login"))
    }

    @Test func hostileAndMalformedMessages() throws {
        let firsts = [
            "p=tls-unique,,n=user,r=abc",     // channel binding asked for: not offered
            "n,,m=ext,n=user,r=abc",          // an unknown mandatory extension
            "n,,r=abc,n=user",                // attributes out of order
            "n,,n=us=2Xer,r=abc",             // a bad saslname escape
            "n,,n=,r=abc",                    // an empty name
            "n,a=other,n=user,r=abc",         // acting as someone else
            "n,,n=user,r=",                   // an empty nonce
            "garbage",
        ]
        for text in firsts {
            var exchange = SASLExchange(mechanism: .scramSHA256)
            guard case .malformed = exchange.start(initialResponse: Array(text.utf8)) else {
                Issue.record("accepted \(text)")
                continue
            }
        }
        var escaped = SASLExchange(mechanism: .scramSHA256)
        #expect(escaped.start(initialResponse: Array("n,,n=a=2Cb=3Dc,r=abc".utf8)) == .needSCRAMSecrets(username: "a,b=c"))
        // The nonce must come back unchanged, and c= must be the gs2-header.
        for final in ["c=biws,r=abcOTHER,p=\(Data(count: 32).base64EncodedString())",
                      "c=eSws,r=abcxyz,p=\(Data(count: 32).base64EncodedString())"] {
            var exchange = SASLExchange(scramServerNonce: "xyz")
            _ = exchange.start(initialResponse: Array("n,,n=user,r=abc".utf8))
            _ = exchange.provide(try Self.rfcSecrets())
            guard case .failed = exchange.respond(Array(final.utf8)) else {
                Issue.record("accepted \(final)")
                continue
            }
        }
        var noProof = SASLExchange(scramServerNonce: "xyz")
        _ = noProof.start(initialResponse: Array("n,,n=user,r=abc".utf8))
        _ = noProof.provide(try Self.rfcSecrets())
        guard case .malformed = noProof.respond(Array("c=biws,r=abcxyz".utf8)) else {
            Issue.record("accepted a final message without proof")
            return
        }
    }

    /// SASLprep leaves ASCII alone and maps what RFC 4013 maps.
    @Test func saslPrep() {
        #expect(SASLprep.prepare("pencil") == "pencil")
        #expect(SASLprep.prepare("I\u{00AD}X") == "IX")          // RFC 4013 §3 example: soft hyphen mapped to nothing
        #expect(SASLprep.prepare("\u{00AA}") == "a")             // NFKC
        #expect(SASLprep.prepare("a\u{2003}b") == "a b")         // a non-ASCII space becomes U+0020
    }
}
