import Foundation
import Testing
import SMTPServer

/// AUTH, STARTTLS and implicit TLS, over real TLS with NIOSSL as the client.
@Suite(.timeLimit(.minutes(1)))
struct SMTPSecurityTests {
    static func b64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test func authPlainAndLogin() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client("submission")
            #expect(try await c.command("AUTH PLAIN " + Self.b64("\0demo@example.test\0wrong")).description
                    == "535 5.7.8 Error: authentication failed: authentication credentials invalid")
            #expect(try await c.command("AUTH PLAIN " + Self.b64("\0nobody@example.test\0secret")).code == 535)
            // Acting as someone else (authzid) is refused.
            #expect(try await c.command("AUTH PLAIN " + Self.b64("other@example.test\0demo@example.test\0secret")).code == 535)
            #expect(try await c.command("AUTH PLAIN !!!notbase64").description.hasPrefix("501 5.5.2"))
            #expect(try await c.command("AUTH CRAM-MD5").description.hasPrefix("504 5.5.4"))
            // PLAIN without initial response: an empty 334 challenge; "*" cancels.
            #expect(try await c.command("AUTH PLAIN").description == "334 ")
            #expect(try await c.command("*").description.hasPrefix("501 5.7.0"))
            #expect(try await c.command("AUTH LOGIN").description == "334 " + Self.b64("Username:"))
            #expect(try await c.command(Self.b64("demo@example.test")).description == "334 " + Self.b64("Password:"))
            #expect(try await c.command(Self.b64("secret")).description == "235 2.7.0 Authentication successful")
            let other = try await node.client("submission")
            #expect(try await other.command("AUTH LOGIN " + Self.b64("other@example.test")).code == 334)
            #expect(try await other.command(Self.b64("secret")).code == 235)
            // AUTH is not offered on the MX listener.
            let mx = try await node.client()
            #expect(try await mx.command("AUTH PLAIN " + Self.b64("\0demo@example.test\0secret")).description.hasPrefix("503 5.5.1"))
        }
    }

    @Test func plaintextAuthNeedsEncryption() async throws {
        // As a client that is not on loopback would see it.
        try await SMTPTestNode.run(configure: { $0.plaintextAuthOnLoopback = false }) { node in
            let c = try await node.client("submission")
            let ehlo = try await c.command("EHLO client.test")
            #expect(!ehlo.lines.contains { $0.hasPrefix("AUTH") })
            #expect(try await c.command("AUTH PLAIN " + Self.b64("\0demo@example.test\0secret")).description.hasPrefix("530 5.7.0 Must issue a STARTTLS"))
            #expect(try await c.command("MAIL FROM:<demo@example.test>").description.hasPrefix("530 5.7.0"))
            #expect(try await c.command("STARTTLS").code == 220)
            try await c.startTLS()
            let secured = try await c.command("EHLO client.test")
            #expect(secured.lines.contains("AUTH SCRAM-SHA-256 PLAIN LOGIN"))
            #expect(!secured.lines.contains("STARTTLS"))
            #expect(try await c.command("AUTH PLAIN " + Self.b64("\0demo@example.test\0secret")).code == 235)
            #expect(try await c.command("MAIL FROM:<demo@example.test>").code == 250)
            #expect(try await c.command("RCPT TO:<other@example.test>").code == 250)
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: over tls\r\n\r\n.\r\n")
            #expect(try await c.reply().code == 250)
            let message = try #require(try await node.inbox("other@example.test").first)
            let received = try #require(message.header("Received"))
            #expect(received.contains("with ESMTPSA id"))
            // The version and the suite the server chose, read from its ServerHello.
            #expect(received.contains("(using TLSv1.3 with cipher TLS_AES_") || received.contains("(using TLSv1.3 with cipher TLS_CHACHA20")
                    || received.contains("(using TLSv1.2 with cipher TLS_ECDHE_"), "\(received)")
        }
    }

    @Test func startTLSDiscardsWhatWasPipelinedAndResetsTheSession() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<a@remote.test>").code == 250)
            // RFC 3207 §4.2: nothing sent with STARTTLS may be acted on after the upgrade.
            try await c.send("STARTTLS\r\nRCPT TO:<demo@example.test>\r\n")
            #expect(try await c.reply().code == 220)
            try await c.startTLS()
            // The session starts over: no hello, no transaction.
            #expect(try await c.command("MAIL FROM:<a@remote.test>").description.hasPrefix("503 5.5.1"))
            try await c.command("EHLO client.test")
            #expect(try await c.command("RCPT TO:<demo@example.test>").description.hasPrefix("503 5.5.1"))
            #expect(try await c.command("STARTTLS").code == 503)
            #expect(try await node.inbox("demo@example.test").isEmpty)
        }
    }

    @Test func implicitTLSSubmission() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client("submissions")
            #expect(try await c.command("AUTH PLAIN " + Self.b64("\0demo@example.test\0secret")).code == 235)
            #expect(try await c.command("MAIL FROM:<demo@example.test>").code == 250)
            #expect(try await c.command("RCPT TO:<demo@example.test>").code == 250)
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: 465\r\n\r\n.\r\n")
            #expect(try await c.reply().code == 250)
            #expect(try await node.inbox("demo@example.test").first?.header("Received")?.contains("ESMTPSA") == true)
        }
    }
}
