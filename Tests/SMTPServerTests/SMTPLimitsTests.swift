import Foundation
import Testing
import ServerSupport
import SMTPServer

/// Hostile input and the limits: every case ends in the protocol's own reply, with the
/// session going on or ending cleanly, and nothing half-stored.
@Suite(.timeLimit(.minutes(1)))
struct SMTPLimitsTests {
    @Test func overlongLinesNULsAndTooManyErrors() async throws {
        try await SMTPTestNode.run(configure: { $0.maximumErrors = 5; $0.maximumCommandLine = 1024 }) { node in
            let c = try await node.client()
            #expect(try await c.command("NOOP " + String(repeating: "x", count: 100_000)).description.hasPrefix("500 5.5.2 Error: line too long"))
            #expect(try await c.command("NOOP").code == 250)
            try await c.send(bytes: Array("MAIL FROM:<a\0b@remote.test>\r\n".utf8))
            #expect(try await c.reply().description.hasPrefix("500 5.5.2 Error: NUL"))
            try await c.send(bytes: [0xFF, 0xFE, 13, 10])
            #expect(try await c.reply().code == 501)
            // Two more errors reach the limit of five: 421 and the connection closes.
            #expect(try await c.command("BOGUS").code == 500)
            #expect(try await c.command("BOGUS").code == 500)
            let last = try await c.readUntilClosed()
            #expect(last.map(\.description) == ["421 4.7.0 mx.example.test Error: too many errors"])
        }
    }

    @Test func bareLineFeedsDoNotEndTheMessage() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client()
            try await c.command("MAIL FROM:<a@remote.test>")
            try await c.command("RCPT TO:<demo@example.test>")
            #expect(try await c.command("DATA").code == 354)
            // "\n.\n" and "\n.\r\n" are content: a smuggled second message stays inside the first.
            try await c.send("Subject: one\r\n\r\nfirst\n.\nMAIL FROM:<evil@remote.test>\n.\r\nstill first\r\n.\r\n")
            #expect(try await c.reply().code == 250)
            let inbox = try await node.inbox("demo@example.test")
            #expect(inbox.count == 1)
            #expect(inbox.first?.hasSuffix("first\r\n\r\nMAIL FROM:<evil@remote.test>\r\n\r\nstill first\r\n") == true)
        }
    }

    @Test func aMessageThatLoopedIsRefused() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client()
            let trace = { (n: Int) in String(repeating: "Received: from a.test by b.test; Mon, 23 Nov 2026 10:00:00 +0000\r\n", count: n) }
            // 99 Received fields (and ours makes 100): still delivered. 100: a loop (RFC 5321 §6.3).
            for (fields, code) in [(99, 250), (100, 554)] {
                try await c.command("MAIL FROM:<a@remote.test>")
                try await c.command("RCPT TO:<demo@example.test>")
                #expect(try await c.command("DATA").code == 354)
                // A "received:" in the body is not a trace field.
                try await c.send(trace(fields) + "Subject: hops \(fields)\r\n\r\nreceived: body\r\n.\r\n")
                let reply = try await c.reply()
                #expect(reply.code == code, "\(fields): \(reply)")
                if code == 554 { #expect(reply.description.hasPrefix("554 5.4.6")) }
            }
            #expect(try await node.inbox("demo@example.test").count == 1)
            #expect(try await c.command("NOOP").code == 250)   // the session goes on
        }
    }

    @Test func junkAfterTheEndOfDataIsAnotherCommand() async throws {
        try await SMTPTestNode.run { node in
            let c = try await node.client()
            try await c.command("MAIL FROM:<a@remote.test>")
            try await c.command("RCPT TO:<demo@example.test>")
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: x\r\n\r\nbody\r\n.\r\nJUNK AFTER DATA\r\n")
            #expect(try await c.reply().code == 250)
            #expect(try await c.reply().code == 500)
            #expect(try await c.command("NOOP").code == 250)
        }
    }

    @Test func tenThousandRecipients() async throws {
        try await SMTPTestNode.run(configure: { $0.maximumRecipients = 1000 }) { node in
            let c = try await node.client()
            try await c.command("MAIL FROM:<a@remote.test>")
            try await c.send(String(repeating: "RCPT TO:<demo@example.test>\r\n", count: 10_000))
            var accepted = 0, refused = 0
            for _ in 0..<10_000 {
                let reply = try await c.reply()
                if reply.code == 250 { accepted += 1 } else if reply.description.hasPrefix("452 4.5.3") { refused += 1 }
            }
            #expect(accepted == 1000 && refused == 9000)
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: many\r\n\r\n.\r\n")
            #expect(try await c.reply().code == 250)
            #expect(try await node.inbox("demo@example.test").count == 1)
        }
    }

    @Test func aClientThatStopsMidDataStoresNothing() async throws {
        try await SMTPTestNode.run(listener: { $0.idleTimeout = .seconds(1) }) { node in
            let c = try await node.client()
            try await c.command("MAIL FROM:<a@remote.test>")
            try await c.command("RCPT TO:<demo@example.test>")
            #expect(try await c.command("DATA").code == 354)
            try await c.send("Subject: never finished\r\n\r\nhalf a bo")
            // Silent past the idle timeout: 421 4.4.2 and the connection closes.
            let replies = try await c.readUntilClosed()
            #expect(replies.map(\.description) == ["421 4.4.2 mx.example.test Error: timeout exceeded"])
            // A client that hangs up mid-DATA leaves nothing either.
            let d = try await node.client()
            try await d.command("MAIL FROM:<a@remote.test>")
            try await d.command("RCPT TO:<demo@example.test>")
            #expect(try await d.command("DATA").code == 354)
            try await d.send("Subject: cut\r\n\r\npartial")
            await d.close()
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await node.inbox("demo@example.test").isEmpty)
        }
    }

    /// Slowloris: bytes that keep coming, too slowly to ever trip the idle timeout, still end
    /// the session once a command line or a message body takes longer than its own deadline.
    @Test func tricklingClientsMeetTheCommandAndDataDeadlines() async throws {
        try await SMTPTestNode.run(configure: { $0.dataTimeout = .seconds(2) },
                                   listener: { $0.idleTimeout = .seconds(1); $0.commandTimeout = .seconds(2) }) { node in
            let c = try await node.client()
            let start = ContinuousClock.now
            for byte in "NOOP but never ending" {
                // Sending fails once the server has closed: that is the point.
                guard (try? await c.send(String(byte))) != nil else { break }
                try await Task.sleep(for: .milliseconds(300))
                if ContinuousClock.now - start > .seconds(6) { break }
            }
            #expect(try await c.readUntilClosed().map(\.description) == ["421 4.4.2 mx.example.test Error: timeout exceeded"])
            // The 2 s command deadline, not the idle timeout (1 s after the last of 6 s of bytes).
            #expect(ContinuousClock.now - start < .milliseconds(4500))

            let d = try await node.client()
            try await d.command("MAIL FROM:<a@remote.test>")
            try await d.command("RCPT TO:<demo@example.test>")
            #expect(try await d.command("DATA").code == 354)
            let bodyStart = ContinuousClock.now
            for line in 0..<30 {
                guard (try? await d.send("line \(line)\r\n")) != nil else { break }
                try await Task.sleep(for: .milliseconds(300))
                if ContinuousClock.now - bodyStart > .seconds(6) { break }
            }
            #expect(try await d.readUntilClosed().map(\.description) == ["421 4.4.2 mx.example.test Error: timeout exceeded"])
            #expect(ContinuousClock.now - bodyStart < .milliseconds(4500))
            #expect(try await node.inbox("demo@example.test").isEmpty)
        }
    }

    @Test func connectionsPerClientAreLimited() async throws {
        try await SMTPTestNode.run(listener: { $0.maximumConnectionsPerClient = 2 }) { node in
            let first = try await node.client()
            let second = try await node.client()
            let third = try await SMTPTestClient.connect(port: node.smtpPort)
            #expect(try await third.readUntilClosed().map(\.description) == ["421 4.7.0 mx.example.test Error: too many connections"])
            #expect(try await first.command("NOOP").code == 250)
            #expect(try await second.command("QUIT").code == 221)
            _ = try await second.readUntilClosed()
            try await Task.sleep(for: .milliseconds(100))
            let again = try await node.client()
            #expect(try await again.command("NOOP").code == 250)
        }
    }

    @Test func drainLetsTheOpenTransactionFinish() async throws {
        try await SMTPTestNode.run { node in
            let idle = try await node.client()
            let busy = try await node.client()
            try await busy.command("MAIL FROM:<a@remote.test>")
            try await busy.command("RCPT TO:<demo@example.test>")
            let drained = Task { await node.group.drain(grace: .seconds(20)) }
            // The idle session is told at once; the busy one may finish its message first.
            #expect(try await idle.readUntilClosed().map(\.description)
                    == ["421 4.3.2 mx.example.test Service shutting down, closing transmission channel"])
            #expect(try await busy.command("DATA").code == 354)
            try await busy.send("Subject: during drain\r\n\r\n.\r\n")
            #expect(try await busy.reply().code == 250)
            #expect(try await busy.readUntilClosed().map(\.code) == [421])
            await drained.value
            #expect(try await node.inbox("demo@example.test").count == 1)
            // No new connections.
            await #expect(throws: (any Error).self) { _ = try await SMTPTestClient.connect(port: node.smtpPort) }
        }
    }
}
