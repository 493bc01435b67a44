import Foundation
import MailCore
import MailStore
import PetrelTestSupport
import Testing

/// The shared outbound queue: leases keep two workers apart, a lease that ran out is claimed
/// again, and only the lease holder's outcome counts.
@Suite struct OutboundQueueTests {
    @Test func leasesKeepWorkersApartAndExpire() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let queue = OutboundQueue(database: database)
            _ = try await f.messages.accept(GroupCommitTests.inbound("out", to: [], remote: ["x@r.test", "y@r.test"],
                                                                     queueID: "Q1"))
            let first = try await queue.claim(owner: "node-a", limit: 10, lease: .seconds(600))
            #expect(first.map(\.id) == ["Q1"])
            #expect(first.first?.recipients.map(\.address) == ["x@r.test", "y@r.test"])
            #expect(first.first?.sender == "ann@remote.test")
            #expect(try await queue.claim(owner: "node-b", limit: 10, lease: .seconds(600)).isEmpty)
            // node-a dies: its lease runs out, node-b takes the rows over.
            #expect(try await f.int("UPDATE outbound_recipients SET lease_expires = now() - interval '1 second' RETURNING 1") == 1)
            let taken = try await queue.claim(owner: "node-b", limit: 10, lease: .seconds(600))
            #expect(taken.first?.recipients.count == 2)
            // node-a comes back and reports: ignored, the rows are node-b's now.
            try await queue.record(messageID: "Q1", owner: "node-a", results: ["x@r.test": .done, "y@r.test": .done])
            #expect(try await f.int("SELECT count(*) FROM outbound_recipients") == 2)
            // node-b: x delivered, y deferred to later.
            let later = Date().addingTimeInterval(3600)
            try await queue.record(messageID: "Q1", owner: "node-b", results: ["x@r.test": .done, "y@r.test": .retry(next: later, error: "451 busy")])
            #expect(try await f.int("SELECT count(*) FROM outbound_recipients WHERE attempts = 1 AND last_error = '451 busy' AND lease_owner IS NULL") == 1)
            #expect(try await queue.claim(owner: "node-a", limit: 10, lease: .seconds(600)).isEmpty)   // not due yet
            #expect(try await f.int("UPDATE outbound_recipients SET next_attempt_at = now() RETURNING 1") == 1)
            let retried = try await queue.claim(owner: "node-a", limit: 10, lease: .seconds(600))
            #expect(retried.first?.recipients.map(\.attempts) == [1])
            #expect(try await queue.raw(bodyID: retried[0].bodyID).count == Int(retried[0].size))
            // The last recipient done: the message and its body go.
            try await queue.record(messageID: "Q1", owner: "node-a", results: ["y@r.test": .done])
            #expect(try await f.int("SELECT count(*) FROM outbound_messages") == 0)
            #expect(try await f.int("SELECT count(*) FROM message_bodies") == 0)
        }
    }

    @Test func heldRecipientsAreNotClaimed() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let queue = OutboundQueue(database: database)
            _ = try await f.messages.accept(GroupCommitTests.inbound("out", to: [], remote: ["x@r.test"], queueID: "Q2"))
            #expect(try await f.int("UPDATE outbound_recipients SET status = 'hold' RETURNING 1") == 1)
            #expect(try await queue.claim(owner: "node-a", limit: 10, lease: .seconds(600)).isEmpty)
        }
    }

    @Test func oneNodeAtATimeWinsTheDelayWarning() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let queue = OutboundQueue(database: database)
            _ = try await f.messages.accept(GroupCommitTests.inbound("late", to: [], remote: ["x@r.test"], queueID: "QW"))
            #expect(try await queue.claimDelayWarning(messageID: "QW"))
            #expect(try await !queue.claimDelayWarning(messageID: "QW"))   // the other node's turn never comes
            #expect(try await queue.claim(owner: "n", limit: 10, lease: .seconds(60)).first?.delayWarned == true)
            // Not sent after all: given back, and claimable once more.
            #expect(try await queue.claimDelayWarning(messageID: "QW", release: true))
            #expect(try await queue.claimDelayWarning(messageID: "QW"))
            #expect(try await !queue.claimDelayWarning(messageID: "NOSUCH"))
        }
    }
}
