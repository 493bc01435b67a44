import Foundation
import MailAuth
import MailCore
import MailStore
import Testing
import SMTPServer

/// Recipient policy at RCPT (PRODUCT.md order), relaying, the open-relay tricks, sender
/// ownership, access rules and quotas.
@Suite(.timeLimit(.minutes(1)))
struct SMTPPolicyTests {
    @Test func unauthenticatedClientsCannotRelayEvenFromLoopback() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<a@remote.test>").code == 250)
            #expect(try await c.command("RCPT TO:<x@elsewhere.test>").description == "554 5.7.1 <x@elsewhere.test>: Relay access denied")
            #expect(try await c.command("RCPT TO:<x@[192.0.2.1]>").description.hasPrefix("554 5.7.1"))
            // Local names through an alias domain still work.
            #expect(try await c.command("RCPT TO:<demo@alias.test>").code == 250)
            #expect(try await node.queued().isEmpty)
        }
    }

    @Test func openRelayTricksAreRefused() async throws {
        try await SMTPTestNode.run { node in
            // A catch-all would otherwise take user%remote@example.test.
            try await node.directory.addAlias(.init("@example.test"), targets: ["demo"])
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<a@remote.test>").code == 250)
            for trick in ["<victim%elsewhere.test@example.test>", "<elsewhere.test!victim@example.test>",
                          "<\"victim@elsewhere.test\"@example.test>", "<victim%elsewhere.test@alias.test>"] {
                let reply = try await c.command("RCPT TO:\(trick)")
                #expect(reply.description.hasPrefix("550 5.7.1"), "\(trick): \(reply)")
            }
            // A source route is ignored (RFC 5321 §C): what is left is remote, so relaying is denied.
            #expect(try await c.command("RCPT TO:<@example.test:victim@elsewhere.test>").description.hasPrefix("554 5.7.1"))
            #expect(try await c.command("RCPT TO:<@example.test,@mx.example.test:victim@elsewhere.test>").description.hasPrefix("554 5.7.1"))
            // And a route to a local address delivers locally.
            #expect(try await c.command("RCPT TO:<@relay.test:demo@example.test>").code == 250)
            #expect(try await node.queued().isEmpty)
        }
    }

    @Test func trustedNetworksAndAuthenticatedClientsRelay() async throws {
        try await SMTPTestNode.run(configure: { $0.trustedNetworks = [try! IPNetwork("127.0.0.0/8")] }) { node in
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<a@remote.test>").code == 250)
            #expect(try await c.command("RCPT TO:<x@elsewhere.test>").code == 250)
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: relayed\r\n\r\n.\r\n")
            let reply = try await c.reply()
            let id = String(reply.text.split(separator: " ").last ?? "")
            #expect(try await node.queued() == ["\(id) x@elsewhere.test"])
        }
        try await SMTPTestNode.run { node in
            let c = try await node.client("submission")
            #expect(try await c.command("AUTH PLAIN " + Data("\0demo@example.test\0secret".utf8).base64EncodedString()).code == 235)
            #expect(try await c.command("MAIL FROM:<demo@example.test>").code == 250)
            #expect(try await c.command("RCPT TO:<x@elsewhere.test>").code == 250)
            #expect(try await c.command("RCPT TO:<other@example.test>").code == 250)
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: mixed\r\n\r\n.\r\n")
            #expect(try await c.reply().code == 250)
            #expect(try await node.queued().count == 1)
            #expect(try await node.inbox("other@example.test").count == 1)
        }
    }

    @Test func submissionNeedsAuthAndOwnedSenders() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client("submission")
            #expect(try await c.command("MAIL FROM:<demo@example.test>").description.hasPrefix("530 5.7.0"))
            #expect(try await c.command("AUTH PLAIN " + Data("\0demo@example.test\0secret".utf8).base64EncodedString()).code == 235)
            #expect(try await c.command("AUTH PLAIN " + Data("\0demo@example.test\0secret".utf8).base64EncodedString()).code == 503)
            #expect(try await c.command("MAIL FROM:<other@example.test>").description.hasPrefix("553 5.7.1 <other@example.test>: Sender address rejected"))
            #expect(try await c.command("MAIL FROM:<someone@remote.test>").code == 553)
            // Its own address, in any case, a subaddress, an alias that reaches it, its alias domain, the null sender.
            for sender in ["<Demo@Example.test>", "<demo+tag@example.test>", "<sales@example.test>", "<demo@alias.test>", "<>"] {
                let reply = try await c.command("MAIL FROM:\(sender)")
                #expect(reply.code == 250, "\(sender): \(reply)")
                try await c.command("RSET")
            }
        }
    }

    @Test func accessRulesByClientSenderAndRecipient() async throws {
        try await SMTPTestNode.run { node in
            try await node.directory.addAccessRule(kind: .sender, pattern: "@spam.test", action: .reject, reply: "go away")
            try await node.directory.addAccessRule(kind: .recipient, pattern: "other@", action: .reject)
            try await node.directory.addAccessRule(kind: .recipient, pattern: "@partner.test", action: .ok)
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<x@spam.test>").description == "554 5.7.1 <x@spam.test>: Sender address rejected: go away")
            #expect(try await c.command("MAIL FROM:<x@fine.test>").code == 250)
            #expect(try await c.command("RCPT TO:<other@example.test>").description.hasPrefix("554 5.7.1 <other@example.test>: Recipient address rejected: Access denied"))
            #expect(try await c.command("RCPT TO:<bob@partner.test>").code == 250)
            #expect(try await c.command("RCPT TO:<bob@elsewhere.test>").code == 554)
            // A client network rule: most specific wins.
            try await node.directory.addAccessRule(kind: .client, pattern: "127.0.0.0/8", action: .reject, reply: "blocked network")
            try await node.directory.addAccessRule(kind: .client, pattern: "127.0.0.1/32", action: .ok)
            let trusted = try await node.client()
            #expect(try await trusted.command("MAIL FROM:<x@fine.test>").code == 250)
            #expect(try await trusted.command("RCPT TO:<bob@elsewhere.test>").code == 250)
            try await node.directory.removeAccessRule(kind: .client, pattern: "127.0.0.1/32")
            let blocked = try await node.client()
            #expect(try await blocked.command("MAIL FROM:<x@fine.test>").description == "554 5.7.1 Client host rejected: blocked network")
        }
    }

    /// A node that keeps the rules in memory answers from its copy until the copy is dropped
    /// (in `petrel serve`, by the table's change announcement; here by hand).
    @Test func accessRulesFromTheNodesCopy() async throws {
        let cache = AccessRuleCache()
        cache.setListening(true)
        try await SMTPTestNode.run(backend: { database in
            StoreSMTPBackend(database: database, hasher: PasswordHasher(parameters: SMTPTestNode.hashParameters),
                             limits: .default, accessRules: cache)
        }) { node in
            try await node.directory.addAccessRule(kind: .sender, pattern: "@spam.test", action: .reject, reply: "go away")
            try await node.directory.addAccessRule(kind: .recipient, pattern: "@partner.test", action: .ok)
            try await node.directory.addAccessRule(kind: .client, pattern: "127.0.0.0/8", action: .reject, reply: "blocked")
            try await node.directory.addAccessRule(kind: .client, pattern: "127.0.0.1", action: .ok)
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<x@spam.test>").description == "554 5.7.1 <x@spam.test>: Sender address rejected: go away")
            #expect(try await c.command("MAIL FROM:<x@fine.test>").code == 250)
            #expect(try await c.command("RCPT TO:<bob@partner.test>").code == 250)
            #expect(try await c.command("RCPT TO:<demo@example.test>").code == 250)
            #expect(cache.isLoaded)
            // Changed in the table only: the copy still answers (proof that it is used)…
            try await node.directory.removeAccessRule(kind: .client, pattern: "127.0.0.1")
            try await node.directory.addAccessRule(kind: .recipient, pattern: "demo@example.test", action: .reject)
            let before = try await node.client()
            #expect(try await before.command("MAIL FROM:<x@fine.test>").code == 250)
            #expect(try await before.command("RCPT TO:<demo@example.test>").code == 250)
            // …until it is dropped.
            cache.invalidate()
            let after = try await node.client()
            #expect(try await after.command("MAIL FROM:<x@fine.test>").description == "554 5.7.1 Client host rejected: blocked")
            try await node.directory.removeAccessRule(kind: .client, pattern: "127.0.0.0/8")
            cache.invalidate()
            let again = try await node.client()
            #expect(try await again.command("MAIL FROM:<x@fine.test>").code == 250)
            #expect(try await again.command("RCPT TO:<demo@example.test>").description
                    .hasPrefix("554 5.7.1 <demo@example.test>: Recipient address rejected"))
        }
    }

    @Test func quotaIsCheckedAtRcpt() async throws {
        try await SMTPTestNode.run(configure: { $0.maximumMessageSize = 100_000 }) { node in
            try await node.directory.setQuota(EmailAddress("other@example.test"), bytes: 10_000, messages: nil)
            try await node.directory.setQuota(EmailAddress("demo@example.test"), bytes: nil, messages: 1)
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<a@remote.test> SIZE=200000").description.hasPrefix("552 5.3.4"))
            #expect(try await c.command("MAIL FROM:<a@remote.test> SIZE=20000").code == 250)
            #expect(try await c.command("RCPT TO:<other@example.test>").description.hasPrefix("552 5.2.2"))
            #expect(try await c.command("RCPT TO:<demo@example.test>").code == 250)
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: fills demo\r\n\r\n.\r\n")
            #expect(try await c.reply().code == 250)
            // demo now holds its one message: full.
            #expect(try await c.command("MAIL FROM:<a@remote.test>").code == 250)
            #expect(try await c.command("RCPT TO:<demo@example.test>").description == "452 4.2.2 <demo@example.test>: Recipient address rejected: Mailbox full")
            #expect(try await c.command("RCPT TO:<sales@example.test>").code == 452)
            #expect(try await c.command("RCPT TO:<other@example.test>").code == 250)
        }
    }

    @Test func messageLargerThanTheLimitIsRefusedAndTheSessionGoesOn() async throws {
        try await SMTPTestNode.run(configure: { $0.maximumMessageSize = 1000 }) { node in
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<a@remote.test>").code == 250)
            #expect(try await c.command("RCPT TO:<demo@example.test>").code == 250)
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: big\r\n\r\n" + String(repeating: "0123456789\r\n", count: 500) + ".\r\n")
            #expect(try await c.reply().description.hasPrefix("552 5.3.4"))
            #expect(try await c.command("NOOP").code == 250)
            #expect(try await node.inbox("demo@example.test").isEmpty)
        }
    }

    @Test func anUnreachableDatabaseIsATemporaryFailure() async throws {
        // Nothing listens on port 9 of loopback: every connection attempt is refused.
        var options = Database.Options()
        options.maximumConnections = 1
        options.connectTimeout = .seconds(2)
        options.requestTimeout = .seconds(2)
        let dead = try Database(url: DatabaseURL(parsing: "postgres://petrel@127.0.0.1:9/none"), options: options,
                                logger: .init(label: "dead"))
        let pool = Task { await dead.run() }
        defer { pool.cancel() }
        try await SMTPTestNode.run(backend: { _ in
            StoreSMTPBackend(database: dead, hasher: .init(parameters: SMTPTestNode.hashParameters), limits: .default)
        }) { node in
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<a@remote.test>").description.hasPrefix("451 4.3.0"))
            let s = try await node.client("submission")
            #expect(try await s.command("AUTH PLAIN " + Data("\0demo@example.test\0secret".utf8).base64EncodedString()).description.hasPrefix("454 4.7.0"))
        }
    }
}
