import Logging
import MailCore
import PostgresNIO

/// Mailboxes and subscriptions of accounts. Every call takes the account id first: no query here
/// can reach another account's rows.
public struct MailboxStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Creates INBOX and the special-use mailboxes (subscribed) unless they exist; safe to call
    /// again. Runs on `connection` so that account creation does it in the same transaction.
    static func createDefaults(accountID: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        let names = ["INBOX"] + SpecialUse.defaults.map(\.name)
        // "" stands for "no special use" (PostgresNIO binds arrays of non-optional values).
        let uses: [String] = [""] + SpecialUse.defaults.map { $0.use.rawValue }
        try await connection.query("""
            INSERT INTO mailboxes (account_id, name, special_use)
            SELECT \(accountID), n, nullif(u, '') FROM unnest(\(names)::text[], \(uses)::text[]) AS d(n, u)
            ON CONFLICT DO NOTHING
            """, logger: logger)
        try await connection.query("""
            INSERT INTO subscriptions (account_id, name) SELECT \(accountID), unnest(\(names)::text[])
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    /// Ensures the default mailboxes exist (for accounts created by plain SQL or imported).
    public func ensureDefaults(accountID: Int64) async throws {
        try await database.transaction { connection in
            try await Self.createDefaults(accountID: accountID, on: connection, logger: database.logger)
        }
    }

    /// Every mailbox of the account in name order, or only the one named.
    public func list(accountID: Int64, name: MailboxName? = nil) async throws -> [MailboxRecord] {
        let rows = try await database.query("""
            SELECT m.id, m.name, m.special_use, m.selectable,
                   EXISTS (SELECT 1 FROM mailboxes c WHERE c.account_id = m.account_id
                           AND c.name LIKE replace(replace(replace(m.name, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '/%'),
                   EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name),
                   m.uidvalidity, m.uidnext, m.highestmodseq
            FROM mailboxes m WHERE m.account_id = \(accountID)
              AND (\(name?.value)::text IS NULL OR m.name = \(name?.value))
            ORDER BY m.name
            """)
        var out: [MailboxRecord] = []
        for try await (id, name, use, selectable, children, subscribed, validity, next, modseq)
            in rows.decode((Int64, String, String?, Bool, Bool, Bool, Int64, Int64, Int64).self) {
            out.append(MailboxRecord(id: id, name: name, specialUse: use.flatMap(SpecialUse.init(rawValue:)),
                                     selectable: selectable, hasChildren: children, subscribed: subscribed,
                                     uidValidity: UInt32(truncatingIfNeeded: validity),
                                     uidNext: UInt32(truncatingIfNeeded: min(next, Int64(UInt32.max))),
                                     highestModSeq: modseq))
        }
        return out
    }

    public func mailbox(accountID: Int64, name: MailboxName) async throws -> MailboxRecord {
        guard let record = try await list(accountID: accountID, name: name).first else {
            throw StoreError(.notFound, "mailbox \(name) does not exist")
        }
        return record
    }

    /// RFC 3501 §6.3.3 CREATE: superior levels that are missing are created too; creating a name
    /// that exists is refused (a \Noselect level becomes selectable instead, as Dovecot does).
    public func create(accountID: Int64, name: MailboxName, specialUse: SpecialUse? = nil) async throws {
        try await database.transaction { connection in
            let logger = database.logger
            let ancestors = name.ancestors.map(\.value)
            try await connection.query("""
                INSERT INTO mailboxes (account_id, name) SELECT \(accountID), unnest(\(ancestors)::text[])
                ON CONFLICT DO NOTHING
                """, logger: logger)
            let rows = try await connection.query("""
                INSERT INTO mailboxes (account_id, name, special_use) VALUES (\(accountID), \(name.value), \(specialUse?.rawValue))
                ON CONFLICT (account_id, name) DO UPDATE SET selectable = true
                    WHERE NOT mailboxes.selectable AND \(specialUse?.rawValue)::text IS NULL
                RETURNING id
                """, logger: logger)
            var created = false
            for try await _ in rows { created = true }
            guard created else { throw StoreError(.alreadyExists, "mailbox \(name) already exists") }
        }
    }

    /// RFC 3501 §6.3.4 DELETE: INBOX cannot be deleted; a mailbox with inferiors becomes
    /// \Noselect (its messages go); a \Noselect mailbox with inferiors cannot be deleted.
    public func delete(accountID: Int64, name: MailboxName) async throws {
        guard !name.isInbox else { throw StoreError(.conflict, "INBOX cannot be deleted") }
        let record = try await mailbox(accountID: accountID, name: name)
        try await database.transaction { connection in
            let logger = database.logger
            // Lock order (migration 0003): the account before its mailboxes; the message
            // triggers update the account's usage.
            try await connection.query("SELECT 1 FROM accounts WHERE id = \(accountID) FOR NO KEY UPDATE", logger: logger)
            if record.hasChildren {
                guard record.selectable else {
                    throw StoreError(.conflict, "mailbox \(name) has inferior hierarchical names and is not selectable")
                }
                try await connection.query("""
                    UPDATE mailboxes SET selectable = false, special_use = NULL
                    WHERE account_id = \(accountID) AND id = \(record.id)
                    """, logger: logger)
                try await connection.query(
                    "DELETE FROM messages WHERE account_id = \(accountID) AND mailbox_id = \(record.id)", logger: logger)
            } else {
                // Its messages and expunge log go with it (ON DELETE CASCADE; triggers keep usage).
                try await connection.query(
                    "DELETE FROM mailboxes WHERE account_id = \(accountID) AND id = \(record.id)", logger: logger)
            }
        }
    }

    /// RFC 3501 §6.3.5 RENAME: the mailbox and all its inferiors move to the new name (missing
    /// superiors of the new name are created); renaming onto an existing name is refused.
    /// Renaming INBOX moves its contents to a new mailbox and leaves INBOX in place, empty.
    public func rename(accountID: Int64, from: MailboxName, to: MailboxName) async throws {
        guard from != to else { throw StoreError(.alreadyExists, "mailbox \(to) already exists") }
        // INBOX's inferiors do not move with it (§6.3.5), so INBOX may be renamed below itself.
        guard !to.isInbox, from.isInbox || !from.isAncestor(of: to) else {
            throw StoreError(.invalid, "cannot rename \(from) to \(to)")
        }
        try await database.transaction { connection in
            let logger = database.logger
            try await connection.query("SELECT 1 FROM accounts WHERE id = \(accountID) FOR NO KEY UPDATE", logger: logger)
            let exists = try await connection.query(
                "SELECT 1 FROM mailboxes WHERE account_id = \(accountID) AND name = \(from.value) FOR UPDATE", logger: logger)
            var found = false
            for try await _ in exists { found = true }
            guard found else { throw StoreError(.notFound, "mailbox \(from) does not exist") }
            let clash = try await connection.query(
                "SELECT 1 FROM mailboxes WHERE account_id = \(accountID) AND name = \(to.value)", logger: logger)
            var taken = false
            for try await _ in clash { taken = true }
            guard !taken else { throw StoreError(.alreadyExists, "mailbox \(to) already exists") }
            try await connection.query("""
                INSERT INTO mailboxes (account_id, name) SELECT \(accountID), unnest(\(to.ancestors.map(\.value))::text[])
                ON CONFLICT DO NOTHING
                """, logger: logger)
            if from.isInbox {
                // INBOX stays, empty; a new mailbox takes the new name and INBOX's messages,
                // with their UIDs (the new mailbox has its own UIDVALIDITY).
                try await Self.moveInboxContents(accountID: accountID, to: to, on: connection, logger: logger)
                return
            }
            // The subtree: the mailbox itself and every name below it, in one statement.
            // PostgreSQL counts characters as code points, so count Unicode scalars here.
            let prefixLength = from.value.unicodeScalars.count
            try await connection.query("""
                UPDATE mailboxes SET name = \(to.value) || substr(name, \(prefixLength)::int + 1)
                WHERE account_id = \(accountID)
                  AND (name = \(from.value) OR left(name, \(prefixLength + 1)::int) = \(from.value + "/"))
                """, logger: logger)
            // Subscriptions follow the renamed names (as Dovecot does); one already there is kept.
            try await connection.query("""
                INSERT INTO subscriptions (account_id, name)
                SELECT account_id, \(to.value) || substr(name, \(prefixLength)::int + 1) FROM subscriptions
                WHERE account_id = \(accountID)
                  AND (name = \(from.value) OR left(name, \(prefixLength + 1)::int) = \(from.value + "/"))
                ON CONFLICT DO NOTHING
                """, logger: logger)
            try await connection.query("""
                DELETE FROM subscriptions WHERE account_id = \(accountID)
                  AND (name = \(from.value) OR left(name, \(prefixLength + 1)::int) = \(from.value + "/"))
                """, logger: logger)
        }
    }

    private static func moveInboxContents(accountID: Int64, to: MailboxName, on connection: PostgresConnection,
                                          logger: Logger) async throws {
        let inboxRows = try await connection.query("""
            SELECT id, uidnext, highestmodseq FROM mailboxes WHERE account_id = \(accountID) AND name = 'INBOX' FOR NO KEY UPDATE
            """, logger: logger)
        var inbox: (id: Int64, uidnext: Int64, modseq: Int64)?
        for try await row in inboxRows.decode((Int64, Int64, Int64).self) { inbox = row }
        guard let inbox else { throw StoreError(.notFound, "INBOX does not exist") }
        let created = try await connection.query("""
            INSERT INTO mailboxes (account_id, name, uidnext, highestmodseq)
            VALUES (\(accountID), \(to.value), \(inbox.uidnext), \(inbox.modseq)) RETURNING id
            """, logger: logger)
        var newID: Int64?
        for try await id in created.decode(Int64.self) { newID = id }
        guard let newID else { throw StoreError(.temporary, "mailbox \(to) was not created") }
        try await connection.query("""
            INSERT INTO messages (account_id, mailbox_id, uid, body_id, modseq, flags, keywords, internal_date, size, header_prefix)
            SELECT account_id, \(newID), uid, body_id, modseq, flags, keywords, internal_date, size, header_prefix
            FROM messages WHERE account_id = \(accountID) AND mailbox_id = \(inbox.id)
            """, logger: logger)
        try await connection.query("""
            WITH gone AS (DELETE FROM messages WHERE account_id = \(accountID) AND mailbox_id = \(inbox.id) RETURNING uid)
            INSERT INTO expunged_messages (account_id, mailbox_id, uid, modseq)
            SELECT \(accountID), \(inbox.id), uid, \(inbox.modseq + 1) FROM gone
            ON CONFLICT (account_id, mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq
            """, logger: logger)
        try await connection.query("""
            UPDATE mailboxes SET highestmodseq = \(inbox.modseq + 1) WHERE account_id = \(accountID) AND id = \(inbox.id)
            """, logger: logger)
    }

    public func subscribe(accountID: Int64, name: MailboxName) async throws {
        try await database.query("""
            INSERT INTO subscriptions (account_id, name) VALUES (\(accountID), \(name.value)) ON CONFLICT DO NOTHING
            """)
    }

    public func unsubscribe(accountID: Int64, name: MailboxName) async throws {
        let rows = try await database.query(
            "DELETE FROM subscriptions WHERE account_id = \(accountID) AND name = \(name.value) RETURNING 1")
        for try await _ in rows { return }
        throw StoreError(.notFound, "not subscribed to \(name)")
    }

    public func subscriptions(accountID: Int64) async throws -> [String] {
        let rows = try await database.query(
            "SELECT name FROM subscriptions WHERE account_id = \(accountID) ORDER BY name")
        var out: [String] = []
        for try await name in rows.decode(String.self) { out.append(name) }
        return out
    }
}
