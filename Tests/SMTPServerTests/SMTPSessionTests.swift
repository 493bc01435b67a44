import Foundation
import Testing
import SMTPServer

/// RFC 5321 commands and replies over real sockets against an in-process node.
@Suite(.timeLimit(.minutes(1)))
struct SMTPSessionTests {
    @Test func greetingAndEHLOAdvertiseTheExtensions() async throws {
        try await SMTPTestNode.run { node in
            let mx = try await node.client(ehlo: false)
            let ehlo = try await mx.command("EHLO client.test")
            #expect(ehlo.code == 250)
            #expect(ehlo.lines.first == "mx.example.test")
            for keyword in ["PIPELINING", "SIZE 52428800", "8BITMIME", "ENHANCEDSTATUSCODES", "STARTTLS", "SMTPUTF8", "CHUNKING"] {
                #expect(ehlo.lines.contains(keyword), "\(keyword) missing from \(ehlo)")
            }
            // Port 25 is for other MTAs: no AUTH there unless configured.
            #expect(!ehlo.lines.contains { $0.hasPrefix("AUTH") })
            let submission = try await node.client("submission", ehlo: false)
            let subEHLO = try await submission.command("EHLO client.test")
            #expect(subEHLO.lines.contains("AUTH SCRAM-SHA-256 PLAIN LOGIN"))
            let helo = try await submission.command("HELO client.test")
            #expect(helo.code == 250 && helo.text == "mx.example.test")
        }
    }

    @Test func simpleCommandsAndErrors() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client(ehlo: false)
            #expect(try await c.command("MAIL FROM:<a@remote.test>").description.hasPrefix("503 5.5.1"))
            #expect(try await c.command("EHLO").description.hasPrefix("501"))
            #expect(try await c.command("EHLO bad_name!").description.hasPrefix("501"))
            try await c.command("EHLO client.test")
            #expect(try await c.command("NOOP").description == "250 2.0.0 Ok")
            #expect(try await c.command("NOOP anything").code == 250)
            #expect(try await c.command("HELP").code == 214)
            #expect(try await c.command("VRFY demo@example.test").description.hasPrefix("252 2.0.0"))
            #expect(try await c.command("VRFY nobody@example.test").description.hasPrefix("252 2.0.0"))
            #expect(try await c.command("EXPN staff").description.hasPrefix("502 5.5.1"))
            #expect(try await c.command("VRFY").description.hasPrefix("501"))
            #expect(try await c.command("FROBNICATE").description.hasPrefix("500 5.5.2"))
            #expect(try await c.command("RCPT TO:<demo@example.test>").description.hasPrefix("503 5.5.1"))
            #expect(try await c.command("DATA").description.hasPrefix("503 5.5.1"))
            #expect(try await c.command("MAIL FROM:a@remote.test").description.hasPrefix("501 5.5.4"))
            #expect(try await c.command("MAIL FROM:<a@remote.test> RET=HDRS").description.hasPrefix("555 5.5.4"))
            #expect(try await c.command("MAIL FROM:<a@remote.test> BODY=8BITMIME SIZE=100").code == 250)
            #expect(try await c.command("MAIL FROM:<b@remote.test>").description.hasPrefix("503 5.5.1"))
            #expect(try await c.command("DATA").description.hasPrefix("554 5.5.1"))
            #expect(try await c.command("RSET").description == "250 2.0.0 Ok")
            #expect(try await c.command("MAIL FROM:<>").code == 250)
            #expect(try await c.command("QUIT").description.hasPrefix("221 2.0.0"))
            #expect(try await c.readUntilClosed().isEmpty)
        }
    }

    @Test func deliveryStoresTheMessageWithTraceHeaders() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<alice@remote.test>").code == 250)
            #expect(try await c.command("RCPT TO:<Demo@Example.TEST>").description == "250 2.1.5 Ok")
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: hello\r\nFrom: alice@remote.test\r\n\r\nline one\r\n..leading dot\r\n.\r\n")
            let accepted = try await c.reply()
            #expect(accepted.code == 250)
            #expect(accepted.text.hasPrefix("2.0.0 Ok: queued as "))
            let queueID = String(accepted.text.dropFirst("2.0.0 Ok: queued as ".count))
            let inbox = try await node.inbox("demo@example.test")
            #expect(inbox.count == 1)
            let message = try #require(inbox.first)
            #expect(message.hasPrefix("Return-Path: <alice@remote.test>\r\nDelivered-To: demo@example.test\r\nReceived: from client.test ([127.0.0.1])\r\n"))
            let received = try #require(message.header("Received"))
            #expect(received.contains("by mx.example.test (Petrel) with ESMTP id \(queueID)"))
            #expect(received.contains("for <Demo@Example.TEST>"))
            #expect(message.header("Subject") == "hello")
            // Dot-unstuffing: the client's "..leading dot" is ".leading dot".
            #expect(message.hasSuffix("\r\n\r\nline one\r\n.leading dot\r\n"))
        }
    }

    @Test func pipelinedCommandsAreAnsweredInOrder() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client()
            try await c.send("MAIL FROM:<a@remote.test>\r\nRCPT TO:<demo@example.test>\r\nRCPT TO:<nobody@example.test>\r\n"
                             + "RCPT TO:<sales@example.test>\r\nDATA\r\n")
            #expect(try await c.reply().code == 250)
            #expect(try await c.reply().code == 250)
            #expect(try await c.reply().description.hasPrefix("550 5.1.1 <nobody@example.test>"))
            #expect(try await c.reply().code == 250)
            #expect(try await c.reply().code == 354)
            try await c.send("Subject: pipelined\r\n\r\nbody\r\n.\r\nMAIL FROM:<b@remote.test>\r\nRCPT TO:<other@example.test>\r\nDATA\r\n")
            #expect(try await c.reply().code == 250)
            #expect(try await c.reply().code == 250)
            #expect(try await c.reply().code == 250)
            #expect(try await c.reply().code == 354)
            try await c.send("Subject: second\r\n\r\n.\r\nQUIT\r\n")
            #expect(try await c.reply().code == 250)
            #expect(try await c.reply().code == 221)
            // demo was named twice (directly and through sales@): one copy.
            #expect(try await node.inbox("demo@example.test").count == 1)
            #expect(try await node.inbox("other@example.test").count == 1)
        }
    }

    @Test func bdatChunksMakeOneMessage() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client()
            // A chunk sent without a transaction is still read in full, so the stream stays in step.
            try await c.send("BDAT 5\r\nXXXXX")
            #expect(try await c.reply().description.hasPrefix("503 5.5.1"))
            #expect(try await c.command("MAIL FROM:<a@remote.test>").code == 250)
            #expect(try await c.command("RCPT TO:<demo@example.test>").code == 250)
            let part1 = "Subject: chunks\r\n\r\n.no stuffing in BDAT\r\n"
            try await c.send("BDAT \(part1.utf8.count)\r\n\(part1)")
            #expect(try await c.reply().description == "250 2.0.0 Ok: \(part1.utf8.count) octets received")
            #expect(try await c.command("DATA").description.hasPrefix("503 5.5.1"))
            let part2 = "second part\r\n"
            try await c.send("BDAT \(part2.utf8.count) LAST\r\n\(part2)")
            #expect(try await c.reply().text.hasPrefix("2.0.0 Ok: queued as"))
            let message = try #require(try await node.inbox("demo@example.test").first)
            #expect(message.hasSuffix("\r\n\r\n.no stuffing in BDAT\r\nsecond part\r\n"))
            // BDAT 0 LAST ends a message whose chunks are all sent.
            #expect(try await c.command("MAIL FROM:<a@remote.test>").code == 250)
            #expect(try await c.command("RCPT TO:<demo@example.test>").code == 250)
            let only = "Subject: empty last\r\n\r\nx\r\n"
            try await c.send("BDAT \(only.utf8.count)\r\n\(only)BDAT 0 LAST\r\n")
            #expect(try await c.reply().code == 250)
            #expect(try await c.reply().text.hasPrefix("2.0.0 Ok: queued as"))
            #expect(try await node.inbox("demo@example.test").count == 2)
        }
    }

    @Test func smtputf8AddressesNeedTheParameter() async throws {
        try await SMTPTestNode.run { node in
            try await node.directory.addAlias(.init("jöran@example.test"), targets: ["demo"])
            let c = try await node.client()
            #expect(try await c.command("MAIL FROM:<jörg@remote.test>").description.hasPrefix("553 5.6.7"))
            #expect(try await c.command("MAIL FROM:<a@remote.test>").code == 250)
            #expect(try await c.command("RCPT TO:<jöran@example.test>").description.hasPrefix("553 5.6.7"))
            try await c.command("RSET")
            #expect(try await c.command("MAIL FROM:<jörg@remote.test> SMTPUTF8").code == 250)
            #expect(try await c.command("RCPT TO:<jöran@example.test>").code == 250)
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: grüße\r\n\r\nÄpfel\r\n.\r\n")
            #expect(try await c.reply().code == 250)
            let message = try #require(try await node.inbox("demo@example.test").first)
            #expect(message.contains("with UTF8SMTP id"))
            #expect(message.hasPrefix("Return-Path: <jörg@remote.test>\r\n"))
            #expect(message.hasSuffix("Subject: grüße\r\n\r\nÄpfel\r\n"))
        }
    }
}
