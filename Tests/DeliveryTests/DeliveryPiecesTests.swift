@testable import Delivery
import Foundation
import Logging
import NIOCore
import Testing

/// The small pure parts of outbound delivery: next-hop syntax, the retry schedule,
/// dot-stuffing and the DSN.
@Suite struct DeliveryPiecesTests {
    @Test func nextHopSyntaxIsPostfixs() throws {
        let bracketed = try Router.NextHopSpec(parsing: "[relay.example.net]:587")
        #expect(bracketed.host == "relay.example.net" && bracketed.port == 587 && !bracketed.lookUpMX)
        let mx = try Router.NextHopSpec(parsing: "example.net")
        #expect(mx.host == "example.net" && mx.port == nil && mx.lookUpMX)
        let address = try Router.NextHopSpec(parsing: "[127.0.0.5]")
        #expect(address.host == "127.0.0.5" && address.port == nil && !address.lookUpMX)
        for bad in ["", "[x", "[x]:0", "[x]:70000", "host:port", "[x]y", "a b"] {
            #expect(throws: Router.RouteError.self, "\(bad)") { try Router.NextHopSpec(parsing: bad) }
        }
    }

    @Test func retryScheduleGrowsThenRepeatsItsLastStep() {
        var settings = QueueWorker.Settings(owner: "n", hostname: "h")
        settings.retrySchedule = [.seconds(60), .seconds(600), .seconds(3600)]
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(settings.nextAttempt(after: 1, now: now) == now.addingTimeInterval(60))
        #expect(settings.nextAttempt(after: 2, now: now) == now.addingTimeInterval(600))
        #expect(settings.nextAttempt(after: 3, now: now) == now.addingTimeInterval(3600))
        #expect(settings.nextAttempt(after: 40, now: now) == now.addingTimeInterval(3600))
    }

    @Test func dataIsDotStuffedAndTerminated() {
        func stuffed(_ text: String) -> String { String(buffer: SMTPClientSession.dotStuffed(Array(text.utf8))) }
        #expect(stuffed("a\r\n.b\r\n..\r\n") == "a\r\n..b\r\n...\r\n.\r\n")
        #expect(stuffed(".start\r\nend") == "..start\r\nend\r\n.\r\n")
        #expect(stuffed("") == ".\r\n")
    }

    @Test func reportIsAnRFC3464MultipartReport() {
        let original = Array("Subject: hello\r\nFrom: a@local.test\r\n\r\nbody line\r\n".utf8)
        let report = DeliveryStatusNotification(
            reportingMTA: "mx.local.test", queueID: "Q1", originalSender: "a@local.test",
            arrivalDate: Date(timeIntervalSince1970: 1_800_000_000),
            failures: [.init(recipient: "x@remote.test", diagnostic: "RCPT: 550 5.1.1 <x@remote.test>: no such user"),
                       .init(recipient: "y@remote.test", diagnostic: "Domain remote.test does not accept mail\r\nInjected: yes")],
            original: original)
        let text = String(decoding: report.render(boundary: "B0UND"), as: UTF8.self)
        #expect(text.contains("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"B0UND\"\r\n"))
        #expect(text.contains("Final-Recipient: rfc822; x@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                              + "Diagnostic-Code: smtp; 550 5.1.1 <x@remote.test>: no such user\r\n"))
        #expect(text.contains("Final-Recipient: rfc822; y@remote.test\r\nAction: failed\r\nStatus: 5.0.0\r\n\r\n"))
        #expect(!text.contains("\r\nInjected: yes"))
        #expect(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: hello\r\nFrom: a@local.test\r\n\r\n--B0UND--\r\n"))
        #expect(!text.contains("body line"))
    }

    @Test func delayWarningSaysDelayedAndUntilWhen() {
        var report = DeliveryStatusNotification(
            reportingMTA: "mx.local.test", queueID: "Q2", originalSender: "a@local.test",
            arrivalDate: Date(timeIntervalSince1970: 1_800_000_000),
            failures: [.init(recipient: "x@remote.test", diagnostic: "RCPT: 451 4.3.0 try later"),
                       .init(recipient: "y@remote.test", diagnostic: "mx.remote.test[192.0.2.1]:25: connection refused")],
            original: Array("Subject: hello\r\n\r\nbody\r\n".utf8))
        report.kind = .delay(retryUntil: Date(timeIntervalSince1970: 1_800_432_000))
        let text = String(decoding: report.render(boundary: "B"), as: UTF8.self)
        #expect(text.contains("Subject: Delayed Mail (still being retried)\r\n"))
        #expect(text.contains("THIS IS A WARNING ONLY"))
        #expect(text.contains("Final-Recipient: rfc822; x@remote.test\r\nAction: delayed\r\nStatus: 4.3.0\r\n"
                              + "Diagnostic-Code: smtp; 451 4.3.0 try later\r\nWill-Retry-Until: Wed, 20 Jan 2027 08:00:00 +0000\r\n"))
        #expect(text.contains("Final-Recipient: rfc822; y@remote.test\r\nAction: delayed\r\nStatus: 4.0.0\r\n"))
        #expect(!text.contains("Action: failed"))
    }

    @Test func aRouteOnlyToThisNodeBouncesAsALoop() async {
        var settings = SMTPClient.Settings(heloName: "mx.test")
        settings.connectTimeout = .seconds(2)
        settings.ownEndpoints = OwnEndpoints(listening: [("0.0.0.0", 25), ("127.0.0.1", 2525)],
                                             interfaceAddresses: { ["127.0.0.1", "127.0.0.9", "::1"] })
        #expect(settings.ownEndpoints.contains(address: "127.0.0.9", port: 25))
        #expect(settings.ownEndpoints.contains(address: "0:0:0:0:0:0:0:1", port: 25))   // ::1, written out
        #expect(!settings.ownEndpoints.contains(address: "127.0.0.9", port: 2525))
        #expect(!settings.ownEndpoints.contains(address: "127.0.0.10", port: 25))
        let client = SMTPClient(settings: settings, logger: Logger(label: "test"), reuseConnections: false)
        let envelope = OutboundEnvelope(queueID: "Q", sender: "a@local.test", recipients: ["x@self.test"],
                                        body8bit: false, smtputf8: false)
        let message = Array("Subject: x\r\n\r\nbody\r\n".utf8)
        let own = Router.Hop(host: "mx.self.test", addresses: ["127.0.0.1", "127.0.0.9"], port: 25, tls: .may)
        let outcomes = await client.deliver(envelope, message: message, hops: [own])
        #expect(outcomes["x@self.test"] == .failed(
            "554 5.4.6 mail loops back to myself: mx.self.test[127.0.0.1]:25, mx.self.test[127.0.0.9]:25 is this node"))
        // With another hop besides (nothing listens there): tried, so only deferred.
        let other = Router.Hop(host: "mx2.self.test", addresses: ["127.0.0.10"], port: 25, tls: .may)
        guard case .deferred = await client.deliver(envelope, message: message, hops: [own, other])["x@self.test"] else {
            Issue.record("expected a deferral")
            return
        }
    }

    @Test func aCachedSessionServesOnlyItsOwnCredentialsAndHost() {
        let a = Router.Hop(host: "relay.example", addresses: ["127.0.0.2"], port: 587, username: "apikey", password: "key-A",
                           tls: .encrypt)
        var b = a
        b.password = "key-B"
        var c = a
        c.host = "other-relay.example"
        #expect(SMTPConnectionCache.Endpoint(a, address: "127.0.0.2") == SMTPConnectionCache.Endpoint(a, address: "127.0.0.2"))
        #expect(SMTPConnectionCache.Endpoint(a, address: "127.0.0.2") != SMTPConnectionCache.Endpoint(b, address: "127.0.0.2"))
        #expect(SMTPConnectionCache.Endpoint(a, address: "127.0.0.2") != SMTPConnectionCache.Endpoint(c, address: "127.0.0.2"))
    }
}
