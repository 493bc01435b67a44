import MailCore
import MailStore
import PetrelTestSupport
import PostgresNIO
import Testing

@Suite struct MailboxNameTests {
    @Test func canonicalForm() throws {
        #expect(try MailboxName("inbox").value == "INBOX")
        #expect(try MailboxName("Inbox/Lists").value == "INBOX/Lists")
        #expect(try MailboxName("Inboxes").value == "Inboxes")
        #expect(try MailboxName("ınbox").value == "ınbox")
        #expect(try MailboxName("Archiv/2026/Rechnungen").ancestors.map(\.value) == ["Archiv", "Archiv/2026"])
        #expect(try MailboxName("a").isAncestor(of: MailboxName("a/b")))
        #expect(try !MailboxName("a").isAncestor(of: MailboxName("ab")))
        #expect(try MailboxName("a/b/c").replacingPrefix(MailboxName("a/b"), with: MailboxName("x")).value == "x/c")
        #expect(try MailboxName("收件箱/工作").value == "收件箱/工作")
    }

    @Test(arguments: ["", "/a", "a/", "a//b", "a\u{0}b", "a\tb", "new*", "50%", "a\u{85}b"])
    func refuses(_ name: String) {
        #expect(throws: MailboxName.Invalid.self) { try MailboxName(name) }
    }

    @Test func bounds() {
        #expect(throws: MailboxName.Invalid.tooLong) { try MailboxName(String(repeating: "x", count: 1001)) }
        #expect(throws: MailboxName.Invalid.tooDeep) { try MailboxName(Array(repeating: "x", count: 33).joined(separator: "/")) }
    }
}

@Suite struct MailboxStoreTests {
    func account(_ dir: Directory, _ text: String) async throws -> Int64 {
        try await dir.addAccount(EmailAddress(text), passwordHash: "{PLAIN}x").id
    }

    func names(_ store: MailboxStore, _ id: Int64) async throws -> [String] {
        try await store.list(accountID: id).map(\.name)
    }

    @Test func newAccountsGetInboxAndSpecialUseMailboxes() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(DomainName("d.test"))
            let id = try await account(dir, "a@d.test")
            let store = MailboxStore(database: database)
            let list = try await store.list(accountID: id)
            #expect(list.map(\.name) == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"])
            #expect(Dictionary(uniqueKeysWithValues: list.compactMap { m in m.specialUse.map { ($0, m.name) } }) ==
                    [.archive: "Archive", .drafts: "Drafts", .junk: "Junk", .sent: "Sent", .trash: "Trash"])
            #expect(list.allSatisfy { $0.subscribed && $0.selectable && $0.uidNext == 1 && $0.highestModSeq == 1 })
            // UIDVALIDITY: non-zero, distinct per mailbox.
            #expect(Set(list.map(\.uidValidity)).count == list.count && !list.contains { $0.uidValidity == 0 })
            // Idempotent, and available for accounts made by plain SQL.
            try await store.ensureDefaults(accountID: id)
            #expect(try await names(store, id).count == 6)
        }
    }

    @Test func createDeleteRename() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(DomainName("d.test"))
            let id = try await account(dir, "a@d.test")
            let store = MailboxStore(database: database)
            func name(_ s: String) throws -> MailboxName { try MailboxName(s) }

            // CREATE makes missing superiors; an existing name is refused.
            try await store.create(accountID: id, name: name("Work/2026/Q1"))
            #expect(try await names(store, id).contains("Work/2026"))
            await #expect(throws: StoreError(.alreadyExists, "mailbox Work/2026/Q1 already exists")) {
                try await store.create(accountID: id, name: name("Work/2026/Q1"))
            }
            await #expect(throws: StoreError.self) { try await store.create(accountID: id, name: name("inbox")) }
            #expect(try await store.mailbox(accountID: id, name: name("Work")).hasChildren)

            // DELETE: INBOX never; with inferiors -> \Noselect; \Noselect with inferiors -> refused.
            await #expect(throws: StoreError(.conflict, "INBOX cannot be deleted")) { try await store.delete(accountID: id, name: .inbox) }
            try await store.delete(accountID: id, name: name("Work"))
            let work = try await store.mailbox(accountID: id, name: name("Work"))
            #expect(!work.selectable && work.hasChildren)
            await #expect(throws: StoreError.self) { try await store.delete(accountID: id, name: name("Work")) }
            // CREATE on a \Noselect level makes it selectable again.
            try await store.create(accountID: id, name: name("Work"))
            #expect(try await store.mailbox(accountID: id, name: name("Work")).selectable)
            try await store.delete(accountID: id, name: name("Work/2026/Q1"))
            #expect(try await !names(store, id).contains("Work/2026/Q1"))

            // RENAME moves the subtree, creates superiors of the target, keeps UIDVALIDITY.
            try await store.create(accountID: id, name: name("Work/2026/Q2"))
            let before = try await store.mailbox(accountID: id, name: name("Work/2026/Q2")).uidValidity
            try await store.subscribe(accountID: id, name: name("Work/2026/Q2"))
            try await store.rename(accountID: id, from: name("Work"), to: name("Old/Work"))
            let after = try await names(store, id)
            #expect(after.contains("Old/Work/2026/Q2") && after.contains("Old") && !after.contains { $0.hasPrefix("Work") })
            #expect(try await store.mailbox(accountID: id, name: name("Old/Work/2026/Q2")).uidValidity == before)
            #expect(try await store.subscriptions(accountID: id).contains("Old/Work/2026/Q2"))
            await #expect(throws: StoreError.self) { try await store.rename(accountID: id, from: name("Sent"), to: name("Drafts")) }
            await #expect(throws: StoreError.self) { try await store.rename(accountID: id, from: name("Nope"), to: name("Other")) }
            await #expect(throws: StoreError.self) { try await store.rename(accountID: id, from: name("Old"), to: name("Old/Inner")) }
            // Renaming INBOX leaves INBOX in place and makes a new mailbox.
            try await store.rename(accountID: id, from: .inbox, to: name("Saved"))
            let afterInbox = try await names(store, id)
            #expect(afterInbox.contains("INBOX") && afterInbox.contains("Saved"))
            // ... even below itself (§6.3.5: INBOX's inferiors do not move).
            try await store.rename(accountID: id, from: .inbox, to: name("INBOX/old"))
            #expect(try await names(store, id).contains("INBOX/old"))
            // Recreating a deleted name gets a new UIDVALIDITY (RFC 3501 §2.3.1.1).
            try await store.create(accountID: id, name: name("Temp"))
            let first = try await store.mailbox(accountID: id, name: name("Temp")).uidValidity
            try await store.delete(accountID: id, name: name("Temp"))
            try await store.create(accountID: id, name: name("Temp"))
            #expect(try await store.mailbox(accountID: id, name: name("Temp")).uidValidity != first)
        }
    }

    @Test func subscriptionsAndIsolation() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(DomainName("d.test"))
            let a = try await account(dir, "a@d.test")
            let b = try await account(dir, "b@d.test")
            let store = MailboxStore(database: database)
            try await store.create(accountID: a, name: MailboxName("Private"))
            // Subscriptions may name mailboxes that do not exist (RFC 3501 §6.3.6).
            try await store.subscribe(accountID: a, name: MailboxName("Gone"))
            try await store.unsubscribe(accountID: a, name: MailboxName("Trash"))
            await #expect(throws: StoreError.self) { try await store.unsubscribe(accountID: a, name: MailboxName("Trash")) }
            let subs = try await store.subscriptions(accountID: a)
            #expect(subs.contains("Gone") && !subs.contains("Trash"))
            // One account never sees or touches another's mailboxes.
            #expect(try await !names(store, b).contains("Private"))
            await #expect(throws: StoreError.self) { try await store.delete(accountID: b, name: MailboxName("Private")) }
            await #expect(throws: StoreError.self) { try await store.rename(accountID: b, from: MailboxName("Private"), to: MailboxName("Mine")) }
            #expect(try await names(store, a).contains("Private"))
            // Removing the account removes its mailboxes and subscriptions.
            try await dir.removeAccount(EmailAddress("a@d.test"))
            #expect(try await store.list(accountID: a).isEmpty)
            #expect(try await store.subscriptions(accountID: a).isEmpty)
        }
    }
}
