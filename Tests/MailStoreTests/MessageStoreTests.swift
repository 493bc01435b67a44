import Foundation
import MailCore
import MailStore
import MIME
import PetrelTestSupport
import PostgresNIO
import Testing

/// A small fixture: a domain with accounts, their INBOX ids, and SQL for checks.
struct MailFixture {
    let database: Database
    let messages: MessageStore
    let mailboxes: MailboxStore

    init(_ database: Database) {
        self.database = database
        self.messages = MessageStore(database: database)
        self.mailboxes = MailboxStore(database: database)
    }

    func account(_ address: String, domain: String = "d.test") async throws -> (id: Int64, inbox: Int64) {
        let dir = Directory(database: database)
        _ = try? await dir.addDomain(DomainName(domain))
        let id = try await dir.addAccount(EmailAddress(address), passwordHash: "{PLAIN}x").id
        let inbox = try await mailboxes.mailbox(accountID: id, name: MailboxName("INBOX")).id
        return (id, inbox)
    }

    func mailbox(_ account: Int64, _ name: String) async throws -> Int64 {
        try await mailboxes.mailbox(accountID: account, name: MailboxName(name)).id
    }

    func int(_ sql: String) async throws -> Int64 {
        let rows = try await database.client.query(PostgresQuery(unsafeSQL: sql), logger: database.logger)
        for try await value in rows.decode(Int64.self) { return value }
        return -1
    }

    func usage(_ account: Int64) async throws -> (bytes: Int64, messages: Int64) {
        (try await int("SELECT used_bytes FROM accounts WHERE id = \(account)"),
         try await int("SELECT used_messages FROM accounts WHERE id = \(account)"))
    }

    static func message(_ subject: String, body: String = "Hello.\n", extra: String = "") -> PreparedMessage {
        PreparedMessage(raw: Array("From: Ann <ann@d.test>\nTo: bob@d.test\nSubject: \(subject)\nDate: Mon, 23 Nov 2026 10:00:00 +0800\n\(extra)\n\(body)".utf8))
    }
}

@Suite struct MessageStoreTests {
    @Test func deliveryStoresOneBodyForManyRecipientsByteExact() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let bob = try await f.account("bob@d.test")
            let message = MailFixture.message("shared", body: "Line one\nLine two\n")
            let outcome = try await f.messages.deliver(message, to: [
                DeliveryTarget(accountID: ann.id, mailboxID: ann.inbox), DeliveryTarget(accountID: bob.id, mailboxID: bob.inbox),
            ])
            #expect(outcome.refused.isEmpty)
            #expect(outcome.stored.map(\.uid) == [1, 1])
            #expect(try await f.int("SELECT count(*) FROM message_bodies") == 1)
            #expect(try await f.int("SELECT refcount FROM message_bodies") == 2)
            // Stored with CR LF lines, read back byte for byte, in chunks as small as 7 bytes.
            let expected = ParsedMessage.canonicalLineEndings(Array("From: Ann <ann@d.test>\nTo: bob@d.test\nSubject: shared\nDate: Mon, 23 Nov 2026 10:00:00 +0800\n\nLine one\nLine two\n".utf8))
            #expect(message.raw == expected)
            var chunks: [UInt8] = []
            for try await chunk in f.messages.content(accountID: bob.id, mailboxID: bob.inbox, uid: 1, chunkSize: 7) {
                #expect(chunk.readableBytes <= 7)
                chunks += Array(chunk.readableBytesView)
            }
            #expect(chunks == expected)
            #expect(try await f.messages.contentBytes(accountID: ann.id, mailboxID: ann.inbox, uid: 1, range: 6..<9) == Array("Ann".utf8))
            // The parse made at delivery is what FETCH gets.
            let summary = try #require(try await f.messages.summaries(accountID: ann.id, mailboxID: ann.inbox, uids: .all).first)
            let parsed = ParsedMessage(expected)
            #expect(summary.envelope == parsed.envelopeBytes && summary.bodyStructure == parsed.bodyStructureBytes)
            #expect(summary.size == Int64(expected.count))
            #expect(summary.structure.locate(Section(text: .text)) == .bytes(parsed.parts[0].bodyStart..<expected.count))
            // Counters and usage.
            let status = try await f.messages.status(accountID: ann.id, mailboxID: ann.inbox)
            #expect(status.messages == 1 && status.unseen == 1 && status.recent == 1 && status.uidNext == 2 && status.size == Int64(expected.count))
            #expect(try await f.usage(ann.id) == (Int64(expected.count), 1))
            // Another account's UID 1 is not reachable through this account's mailbox id.
            await #expect(throws: StoreError.self) {
                _ = try await f.messages.contentBytes(accountID: ann.id, mailboxID: bob.inbox, uid: 1)
            }
        }
    }

    @Test func identicalContentIsSharedAndFreedWithTheLastReference() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let message = MailFixture.message("same")
            _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: message)
            _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: message, flags: [.deleted])
            #expect(try await f.int("SELECT count(*) FROM message_bodies") == 1)
            #expect(try await f.messages.expunge(accountID: ann.id, mailboxID: ann.inbox) == [2])
            #expect(try await f.int("SELECT refcount FROM message_bodies") == 1)
            _ = try await f.messages.storeFlags(accountID: ann.id, mailboxID: ann.inbox, uids: .all, operation: .add, flags: .deleted)
            #expect(try await f.messages.expunge(accountID: ann.id, mailboxID: ann.inbox) == [1])
            #expect(try await f.int("SELECT count(*) FROM message_bodies") == 0)
            #expect(try await f.usage(ann.id) == (0, 0))
        }
    }

    @Test func flagsModseqAndUnchangedSince() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            for n in 1...3 { _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: MailFixture.message("m\(n)")) }
            let start = try await f.messages.status(accountID: ann.id, mailboxID: ann.inbox).highestModSeq
            let seen = try await f.messages.storeFlags(accountID: ann.id, mailboxID: ann.inbox, uids: UIDSet([1...2]),
                                                       operation: .add, flags: .seen, keywords: ["$Important"])
            #expect(seen.changed.map(\.uid) == [1, 2] && seen.changed.allSatisfy { $0.modseq == start + 1 && $0.keywords == ["$Important"] })
            #expect(try await f.messages.status(accountID: ann.id, mailboxID: ann.inbox).unseen == 1)
            // Setting what is already set changes nothing and spends no modseq.
            let again = try await f.messages.storeFlags(accountID: ann.id, mailboxID: ann.inbox, uids: UIDSet([1...2]), operation: .add, flags: .seen)
            #expect(again.changed.isEmpty)
            #expect(try await f.messages.status(accountID: ann.id, mailboxID: ann.inbox).highestModSeq == start + 1)
            // UNCHANGEDSINCE older than message 1's modseq: 1 and 2 are MODIFIED, 3 changes.
            let conditional = try await f.messages.storeFlags(accountID: ann.id, mailboxID: ann.inbox, uids: .all, operation: .replace,
                                                              flags: .flagged, unchangedSince: start)
            #expect(conditional.changed.map(\.uid) == [3] && conditional.modified == [1, 2])
            let states = try await f.messages.flagStates(accountID: ann.id, mailboxID: ann.inbox)
            #expect(states.map(\.flags) == [.seen, .seen, .flagged])
            let removed = try await f.messages.storeFlags(accountID: ann.id, mailboxID: ann.inbox, uids: UIDSet([1]), operation: .remove,
                                                          flags: .seen, keywords: ["$Important"])
            #expect(removed.changed.first?.flags == [] && removed.changed.first?.keywords == [])
            let changes = try await f.messages.changes(accountID: ann.id, mailboxID: ann.inbox, since: start + 1)
            #expect(changes.changed.map(\.uid) == [1, 3] && changes.expunged.isEmpty)
        }
    }

    @Test func expungeLogAndUIDExpunge() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            for n in 1...4 { _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: MailFixture.message("m\(n)"), flags: [.deleted]) }
            let before = try await f.messages.status(accountID: ann.id, mailboxID: ann.inbox).highestModSeq
            // UID EXPUNGE 2:3 removes only those; a plain EXPUNGE the rest.
            #expect(try await f.messages.expunge(accountID: ann.id, mailboxID: ann.inbox, uids: UIDSet([2...3])) == [2, 3])
            let changes = try await f.messages.changes(accountID: ann.id, mailboxID: ann.inbox, since: before)
            #expect(changes.expunged == [2, 3] && changes.highestModSeq == before + 1)
            #expect(try await f.messages.expunge(accountID: ann.id, mailboxID: ann.inbox) == [1, 4])
            #expect(try await f.messages.changes(accountID: ann.id, mailboxID: ann.inbox, since: before + 1).expunged == [1, 4])
            #expect(try await f.messages.uids(accountID: ann.id, mailboxID: ann.inbox).isEmpty)
            // UIDs are never reused.
            let next = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: MailFixture.message("new"))
            #expect(next.uid == 5)
        }
    }

    @Test func copyAndMove() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let archive = try await f.mailbox(ann.id, "Archive")
            for n in 1...3 { _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: MailFixture.message("m\(n)"), flags: n == 2 ? [.flagged] : []) }
            let one = try await f.usage(ann.id)
            let copied = try await f.messages.copy(accountID: ann.id, from: ann.inbox, uids: UIDSet([2...3]), to: archive)
            #expect(copied.mapping.map(\.source) == [2, 3] && copied.mapping.map(\.destination) == [1, 2])
            #expect(try await f.messages.flagStates(accountID: ann.id, mailboxID: archive).map(\.flags) == [.flagged, []])
            #expect(try await f.usage(ann.id).messages == one.messages + 2)
            let moved = try await f.messages.move(accountID: ann.id, from: ann.inbox, uids: UIDSet([1...2]), to: archive)
            #expect(moved.mapping.map(\.destination) == [3, 4])
            #expect(try await f.messages.uids(accountID: ann.id, mailboxID: ann.inbox) == [3])
            #expect(try await f.messages.uids(accountID: ann.id, mailboxID: archive) == [1, 2, 3, 4])
            #expect(try await f.usage(ann.id).messages == one.messages + 2)
            #expect(try await f.messages.changes(accountID: ann.id, mailboxID: ann.inbox, since: 1).expunged == [1, 2])
            #expect(try await f.int("SELECT count(*) FROM message_bodies") == 3)
        }
    }

    @Test func manyDisjointUIDRanges() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: MailFixture.message("seed"))
            for _ in 0..<12 { _ = try await f.messages.copy(accountID: ann.id, from: ann.inbox, uids: .all, to: ann.inbox) }
            #expect(try await f.messages.status(accountID: ann.id, mailboxID: ann.inbox).messages == 4096)
            // Every odd UID: 2,048 separate ranges in one set.
            let odd = UIDSet(stride(from: UInt32(1), through: 4096, by: 2).map { $0...$0 })
            #expect(odd.ranges.count == 2048)
            #expect(UIDSet([1...3, 4...4, 9...9, 2...5]).ranges == [1...5, 9...9])
            let result = try await f.messages.storeFlags(accountID: ann.id, mailboxID: ann.inbox, uids: odd, operation: .add, flags: .seen)
            #expect(result.changed.count == 2048 && result.changed.allSatisfy { $0.uid % 2 == 1 })
            #expect(try await f.messages.status(accountID: ann.id, mailboxID: ann.inbox).unseen == 2048)
        }
    }

    @Test func quotasRefuseWithADistinctErrorPerAccountAndDomain() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let dir = Directory(database: database)
            let ann = try await f.account("ann@d.test")
            let bob = try await f.account("bob@d.test")
            let message = MailFixture.message("q", body: String(repeating: "x", count: 1000) + "\n")
            try await dir.setQuota(EmailAddress("ann@d.test"), bytes: Int64(message.size) * 2, messages: nil)
            for _ in 1...2 { _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: message) }
            await #expect(throws: StoreError(.overQuota, "mailbox full: quota exceeded")) {
                _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: message)
            }
            // One full recipient does not stop the others.
            let outcome = try await f.messages.deliver(message, to: [DeliveryTarget(accountID: ann.id, mailboxID: ann.inbox),
                                                                     DeliveryTarget(accountID: bob.id, mailboxID: bob.inbox)])
            #expect(outcome.stored.map(\.target.accountID) == [bob.id] && outcome.refused.map(\.error.kind) == [.overQuota])
            // An account that does not exist is "not found", not "full".
            let ghost = try await f.messages.deliver(message, to: [DeliveryTarget(accountID: 999_999, mailboxID: 1)])
            #expect(ghost.refused.map(\.error.kind) == [.notFound] && ghost.stored.isEmpty)
            // A domain quota counts every account of the domain.
            try await dir.setQuota(EmailAddress("ann@d.test"), bytes: 0, messages: nil)
            try await dir.setDomainQuota(DomainName("d.test"), bytes: nil, messages: 4)
            #expect(try await dir.domainUsage(DomainName("d.test")).usedMessages == 3)
            _ = try await f.messages.append(accountID: bob.id, mailboxID: bob.inbox, message: message)
            await #expect(throws: StoreError.self) {
                _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: message)
            }
            #expect(try await dir.domainUsage(DomainName("d.test")).usedMessages == 4)
        }
    }

    @Test func parallelDeliveriesGetDistinctAscendingUIDsAndExactUsage() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let archive = try await f.mailbox(ann.id, "Archive")
            let writers = 24
            let stored = try await withThrowingTaskGroup(of: [UInt32].self) { group in
                for n in 0..<writers {
                    group.addTask {
                        let message = MailFixture.message("parallel \(n)", body: String(repeating: "y", count: n * 10) + "\n")
                        let outcome = try await f.messages.deliver(message, to: [DeliveryTarget(accountID: ann.id, mailboxID: ann.inbox),
                                                                                 DeliveryTarget(accountID: ann.id, mailboxID: archive)])
                        return outcome.stored.filter { $0.target.mailboxID == ann.inbox }.map(\.uid)
                    }
                }
                var all: [UInt32] = []
                for try await uids in group { all += uids }
                return all
            }
            #expect(stored.sorted() == Array(1...UInt32(writers)))
            // Expunges racing deliveries: usage still equals what the rows hold.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    _ = try await f.messages.storeFlags(accountID: ann.id, mailboxID: archive, uids: .all, operation: .add, flags: .deleted)
                    _ = try await f.messages.expunge(accountID: ann.id, mailboxID: archive)
                }
                for n in 0..<8 {
                    group.addTask {
                        _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: MailFixture.message("late \(n)"))
                    }
                }
                try await group.waitForAll()
            }
            let rows = try await f.int("SELECT count(*) FROM messages WHERE account_id = \(ann.id)")
            let bytes = try await f.int("SELECT coalesce(sum(size), 0)::bigint FROM messages WHERE account_id = \(ann.id)")
            #expect(try await f.usage(ann.id) == (bytes, rows))
            let status = try await f.messages.status(accountID: ann.id, mailboxID: ann.inbox)
            #expect(status.messages == Int64(writers + 8) && status.uidNext == UInt32(writers + 9))
        }
    }

    @Test func mailboxDeletionAndInboxRenameCarryTheirMessages() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            try await f.mailboxes.create(accountID: ann.id, name: MailboxName("Work/2026"))
            let work = try await f.mailbox(ann.id, "Work")
            _ = try await f.messages.append(accountID: ann.id, mailboxID: work, message: MailFixture.message("w"))
            _ = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: MailFixture.message("i"))
            // Work has an inferior: it becomes \Noselect and its messages go.
            try await f.mailboxes.delete(accountID: ann.id, name: MailboxName("Work"))
            #expect(try await f.usage(ann.id).messages == 1)
            // RENAME INBOX: its messages move to the new mailbox, INBOX stays and is empty.
            try await f.mailboxes.rename(accountID: ann.id, from: MailboxName("INBOX"), to: MailboxName("Old"))
            let old = try await f.mailbox(ann.id, "Old")
            #expect(try await f.messages.uids(accountID: ann.id, mailboxID: old) == [1])
            #expect(try await f.messages.uids(accountID: ann.id, mailboxID: ann.inbox).isEmpty)
            #expect(try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: MailFixture.message("n")).uid == 2)
            #expect(try await f.usage(ann.id).messages == 2)
            // Deleting the account frees every body.
            try await Directory(database: database).removeAccount(EmailAddress("ann@d.test"))
            #expect(try await f.int("SELECT count(*) FROM message_bodies") == 0)
        }
    }

    @Test func changeEventsReachListenersOfThatAccountOnly() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let bob = try await f.account("bob@d.test")
            let hub = ChangeEventHub(database: database)
            let listener = Task { await hub.run() }
            defer { listener.cancel() }
            await hub.waitUntilListening()
            let annEvents = await hub.subscribe(accountID: ann.id)
            let bobEvents = await hub.subscribe(accountID: bob.id)
            let stored = try await f.messages.append(accountID: ann.id, mailboxID: ann.inbox, message: MailFixture.message("e"))
            _ = try await f.messages.storeFlags(accountID: ann.id, mailboxID: ann.inbox, uids: .all, operation: .add, flags: .deleted)
            _ = try await f.messages.expunge(accountID: ann.id, mailboxID: ann.inbox)
            var received: [ChangeEvent.Kind] = []
            for await event in annEvents {
                #expect(event.accountID == ann.id && event.mailboxID == ann.inbox)
                received.append(event.kind)
                if received.count == 3 { break }
            }
            #expect(received == [.append, .flags, .expunge])
            #expect(stored.uid == 1)
            // Bob's stream got nothing: deliver to Bob now and see only that.
            _ = try await f.messages.append(accountID: bob.id, mailboxID: bob.inbox, message: MailFixture.message("b"))
            for await event in bobEvents {
                #expect(event.accountID == bob.id && event.kind == .append)
                break
            }
        }
    }
}
