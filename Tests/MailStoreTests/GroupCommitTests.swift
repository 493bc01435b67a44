import Foundation
import MailCore
import MailStore
import PetrelTestSupport
import Testing

/// Several SMTP accepts in one transaction: each message is still all or nothing on its own,
/// and concurrent accepts through `GroupCommit` are each stored exactly once.
@Suite struct GroupCommitTests {
    static func inbound(_ subject: String, to copies: [(id: Int64, inbox: Int64)], remote: [String] = [],
                        queueID: String = QueueIDs.next()) -> InboundMessage {
        let local = copies.map { copy in
            LocalCopy(target: DeliveryTarget(accountID: copy.id, mailboxID: copy.inbox),
                      headerPrefix: Array("Delivered-To: \(copy.id)@d.test\r\n".utf8), recipient: "\(copy.id)@d.test")
        }
        return InboundMessage(queueID: queueID, sender: "ann@remote.test", message: MailFixture.message(subject),
                              local: local, remote: remote, client: "test [127.0.0.1]", accountID: nil,
                              smtputf8: false, body8bit: false)
    }

    /// Unique queue ids for the tests (the SMTP module makes the real ones).
    enum QueueIDs {
        static func next() -> String { "T" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(15) }
    }

    @Test func aRefusedMessageLeavesNothingAndTheOthersCommit() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let bob = try await f.account("bob@d.test")
            try await Directory(database: database).setQuota(EmailAddress("bob@d.test"), bytes: 50, messages: nil)
            let results = await f.messages.acceptTogether([
                Self.inbound("first", to: [ann]),
                Self.inbound("too big for bob", to: [ann, bob], remote: ["x@remote.test"]),
                Self.inbound("third", to: [ann], remote: ["y@remote.test"]),
            ])
            #expect(results.count == 3)
            #expect((try? results[0].get())?.map(\.uid) == [1])
            #expect(throws: StoreError.self) { try results[1].get() }
            if case .failure(let error as StoreError) = results[1] {
                #expect(error.kind == .overQuota && error.message.contains("\(bob.id)@d.test"))
            }
            // The refused message took no UID, no copy in ann's INBOX, no body, no queue row.
            #expect((try? results[2].get())?.map(\.uid) == [2])
            #expect(try await f.int("SELECT count(*) FROM messages WHERE account_id = \(ann.id)") == 2)
            #expect(try await f.int("SELECT count(*) FROM messages WHERE account_id = \(bob.id)") == 0)
            #expect(try await f.int("SELECT count(*) FROM message_bodies") == 2)
            #expect(try await f.int("SELECT count(*) FROM outbound_recipients") == 1)
            #expect(try await f.usage(bob.id) == (0, 0))
            #expect(try await f.usage(ann.id).messages == 2)
        }
    }

    @Test func aFailingStatementDoesNotFailTheOthers() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            // The second message reuses a queue id already taken: its INSERT fails, the batch's
            // transaction with it; the others are then stored each on its own.
            let taken = Self.inbound("earlier", to: [], remote: ["a@remote.test"])
            _ = try await f.messages.accept(taken)
            let results = await f.messages.acceptTogether([
                Self.inbound("one", to: [ann]),
                Self.inbound("clash", to: [ann], remote: ["b@remote.test"], queueID: taken.queueID),
                Self.inbound("three", to: [ann]),
            ])
            #expect(results[0].isSuccess && !results[1].isSuccess && results[2].isSuccess)
            #expect(try await f.int("SELECT count(*) FROM messages WHERE account_id = \(ann.id)") == 2)
            #expect(try await f.usage(ann.id).messages == 2)
            #expect(try await f.int("SELECT count(*) FROM outbound_recipients") == 1)
        }
    }

    @Test func aWholeBatchTakesUIDsInMessageOrderAndStoresSharedContentOnce() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let bob = try await f.account("bob@d.test")
            let archive = try await f.mailbox(ann.id, "Archive")
            let same = MailFixture.message("same content", body: "Quarterly numbers attached.\n")
            func inbound(_ message: PreparedMessage, to copies: [(id: Int64, inbox: Int64)], remote: [String] = [])
                -> InboundMessage {
                var m = Self.inbound("unused", to: copies, remote: remote)
                m.message = message
                return m
            }
            let results = await f.messages.acceptTogether([
                inbound(same, to: [ann, bob]),
                inbound(MailFixture.message("second"), to: [ann, (ann.id, archive)], remote: ["x@remote.test"]),
                inbound(same, to: [ann], remote: ["y@remote.test", "z@remote.test", "y@remote.test"]),
                inbound(MailFixture.message("only remote"), to: [], remote: ["w@remote.test"]),
                inbound(MailFixture.message("nobody"), to: []),
            ])
            let stored = try results.map { try $0.get() }
            // ann's INBOX takes UIDs 1, 2, 3 in message order; Archive and bob start at 1.
            #expect(stored[0].map(\.uid) == [1, 1])
            #expect(stored[1].map(\.target.mailboxID) == [ann.inbox, archive].sorted() && Set(stored[1].map(\.uid)) == [2, 1])
            #expect(stored[2].map(\.uid) == [3] && stored[3].isEmpty && stored[4].isEmpty)
            #expect(stored[1].allSatisfy { $0.modseq > 1 })
            #expect(try await f.int("SELECT count(*) FROM messages") == 5)
            // One body per distinct content (the message to nobody stores none), each counted by its
            // copies and queue entries.
            #expect(try await f.int("SELECT count(*) FROM message_bodies") == 3)
            #expect(try await f.int("SELECT refcount FROM message_bodies WHERE raw = '\\x\(same.raw.map { String(format: "%02x", $0) }.joined())'") == 4)
            #expect(try await f.int("SELECT count(*) FROM outbound_messages") == 3)
            #expect(try await f.int("SELECT count(*) FROM outbound_recipients") == 4)
            #expect(try await f.usage(ann.id).messages == 4)
            #expect(try await f.usage(bob.id).messages == 1)
            #expect(try await f.int("SELECT message_count FROM mailboxes WHERE id = \(ann.inbox)") == 3)
            #expect(try await f.int("SELECT uidnext FROM mailboxes WHERE id = \(ann.inbox)") == 4)
            // The body-search words were made for the batch too.
            #expect(try await f.int("SELECT count(*) FROM message_bodies WHERE search_words @@ 'quarterly'::tsquery") == 1)
        }
    }

    /// Batches of up to 8 messages; and batches cut by size (each message is over 100 bytes, so
    /// every batch holds one), which must still serve every waiting message.
    @Test(.timeLimit(.minutes(1)), arguments: [64 * 1024 * 1024, 100])
    func concurrentAcceptsAreEachStoredOnce(maximumBatchBytes: Int) async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let bob = try await f.account("bob@d.test")
            let commits = GroupCommit(store: f.messages, maximumInFlight: 2, maximumBatch: 8,
                                      maximumBatchBytes: maximumBatchBytes)
            let uids = try await withThrowingTaskGroup(of: [UInt32].self) { group in
                for i in 0..<60 {
                    group.addTask { try await commits.accept(Self.inbound("message \(i)", to: [ann, bob])).map(\.uid) }
                }
                var all: [[UInt32]] = []
                for try await stored in group { all.append(stored) }
                return all
            }
            // Every message got a copy for each of the two, with UIDs 1...60 each taken once.
            #expect(uids.count == 60)
            #expect(Set(uids.map { $0[0] }) == Set(1...60))
            #expect(Set(uids.map { $0[1] }) == Set(1...60))
            #expect(try await f.int("SELECT count(*) FROM messages") == 120)
            #expect(try await f.int("SELECT count(*) FROM message_bodies") == 60)
            #expect(try await f.usage(bob.id).messages == 60)
        }
    }

    /// One transaction at a time, so that messages share it; but one that is held up (here by a
    /// lock on Ann's account row, taken elsewhere) lets a second start after `overlapAfter`.
    @Test(.timeLimit(.minutes(1)), arguments: [true, false])
    func aHeldUpBatchLetsAnotherStartAfterAWhile(overlap: Bool) async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let bob = try await f.account("bob@d.test")
            let commits = GroupCommit(store: f.messages, maximumInFlight: 2,
                                      overlapAfter: overlap ? .milliseconds(100) : .seconds(3600))
            let done = Flag()
            let annStored = try await database.client.withTransaction(logger: TestDatabase.logger) { connection in
                _ = try await connection.query("SELECT 1 FROM accounts WHERE id = \(ann.id) FOR UPDATE", logger: TestDatabase.logger)
                let annTask = Task { try await commits.accept(Self.inbound("to ann", to: [ann])) }
                try await Task.sleep(for: .milliseconds(200))   // Ann's batch is running, waiting for the lock
                let bobTask = Task {
                    let stored = try await commits.accept(Self.inbound("to bob", to: [bob]))
                    await done.set()
                    return stored
                }
                if overlap {
                    // Bob's message does not wait for Ann's batch.
                    #expect(try await bobTask.value.map(\.uid) == [1])
                } else {
                    // Bob's message waits for the one running transaction.
                    try await Task.sleep(for: .milliseconds(500))
                    #expect(await !done.value)
                }
                return annTask
            }
            // The lock is gone: Ann's message is stored, and Bob's too.
            #expect(try await annStored.value.map(\.uid) == [1])
            for _ in 0..<250 where await !done.value { try await Task.sleep(for: .milliseconds(20)) }
            #expect(await done.value)
            #expect(try await f.int("SELECT count(*) FROM messages") == 2)
        }
    }
}

/// A yes/no that tasks can set and read.
actor Flag {
    private(set) var value = false
    func set() { value = true }
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
