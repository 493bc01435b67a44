import Logging
import PostgresNIO

/// How STORE changes flags (RFC 3501 §6.4.6 FLAGS / +FLAGS / -FLAGS).
public enum FlagOperation: Sendable {
    case replace, add, remove
}

/// What a STORE did: the new state of each message it changed, and (with UNCHANGEDSINCE) the
/// messages it left alone because they changed after that modseq (RFC 7162 §3.1.3 MODIFIED).
public struct FlagStoreResult: Sendable, Equatable {
    public var changed: [MessageFlagState] = []
    public var modified: [UInt32] = []
}

extension MessageStore {
    /// Changes flags and keywords of the messages in `uids`. Messages whose flags end up the
    /// same are not touched (their modseq stays). All changed messages get one new modseq.
    public func storeFlags(accountID: Int64, mailboxID: Int64, uids: UIDSet, operation: FlagOperation,
                           flags: MessageFlags, keywords: [String] = [], unchangedSince: Int64? = nil) async throws -> FlagStoreResult {
        try await database.transaction { connection in
            let highest = try await Self.lockMailbox(accountID: accountID, mailboxID: mailboxID, on: connection, logger: logger)
            let modseq = highest + 1
            let mode: Int64 = switch operation { case .replace: 0; case .add: 1; case .remove: 2 }
            let rows = try await connection.query("""
                WITH wanted AS (
                    SELECT uid,
                           CASE \(mode) WHEN 0 THEN \(flags.rawValue)::smallint
                                        WHEN 1 THEN flags | \(flags.rawValue)::smallint
                                        ELSE flags & ~\(flags.rawValue)::smallint END AS f,
                           CASE \(mode) WHEN 0 THEN ARRAY(SELECT DISTINCT unnest(\(keywords)::text[]) ORDER BY 1)
                                        WHEN 1 THEN ARRAY(SELECT DISTINCT unnest(keywords || \(keywords)::text[]) ORDER BY 1)
                                        ELSE ARRAY(SELECT unnest(keywords) EXCEPT SELECT unnest(\(keywords)::text[]) ORDER BY 1) END AS k
                    FROM messages
                    WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID)
                      AND uid BETWEEN \(uids.lowest) AND \(uids.highest) AND uid <@ (SELECT \(uids.multirange)::int8multirange)
                      AND (\(unchangedSince)::bigint IS NULL OR modseq <= \(unchangedSince)::bigint)
                )
                UPDATE messages m SET flags = w.f, keywords = w.k, modseq = \(modseq)
                FROM wanted w
                WHERE m.account_id = \(accountID) AND m.mailbox_id = \(mailboxID) AND m.uid = w.uid
                  AND (m.flags <> w.f OR m.keywords <> w.k)
                RETURNING m.uid, m.flags, m.keywords
                """, logger: logger)
            var result = FlagStoreResult()
            for try await (uid, newFlags, newKeywords) in rows.decode((Int64, Int16, [String]).self) {
                result.changed.append(MessageFlagState(uid: UInt32(truncatingIfNeeded: uid), flags: MessageFlags(rawValue: newFlags),
                                                       keywords: newKeywords, modseq: modseq))
            }
            result.changed.sort { $0.uid < $1.uid }
            if !result.changed.isEmpty {
                try await connection.query("""
                    UPDATE mailboxes SET highestmodseq = \(modseq) WHERE account_id = \(accountID) AND id = \(mailboxID)
                    """, logger: logger)
            }
            if let unchangedSince {
                let modified = try await connection.query("""
                    SELECT uid FROM messages
                    WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID) AND modseq > \(unchangedSince)
                      AND modseq <> \(modseq)
                      AND uid BETWEEN \(uids.lowest) AND \(uids.highest) AND uid <@ (SELECT \(uids.multirange)::int8multirange)
                    ORDER BY uid
                    """, logger: logger)
                for try await uid in modified.decode(Int64.self) { result.modified.append(UInt32(truncatingIfNeeded: uid)) }
            }
            return result
        }
    }

    /// EXPUNGE (RFC 3501 §6.4.3) or UID EXPUNGE (RFC 4315 §2.1): removes the \Deleted messages
    /// (within `uids` when given), logs them with the new modseq, and returns their UIDs. With
    /// `onlyDeleted` false (POP3's DELE at QUIT) the messages of `uids` go whatever their flags.
    public func expunge(accountID: Int64, mailboxID: Int64, uids: UIDSet? = nil, onlyDeleted: Bool = true) async throws -> [UInt32] {
        try await database.transaction { connection in
            _ = try await Self.reserveQuota(for: [accountID: (0, 0)], on: connection, logger: logger)  // lock order
            let highest = try await Self.lockMailbox(accountID: accountID, mailboxID: mailboxID, on: connection, logger: logger)
            let set = uids ?? .all
            let candidates = try await connection.query("""
                SELECT uid FROM messages
                WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID) AND (flags & 8 = 8 OR NOT \(onlyDeleted))
                  AND uid BETWEEN \(set.lowest) AND \(set.highest) AND uid <@ (SELECT \(set.multirange)::int8multirange)
                ORDER BY uid
                """, logger: logger)
            var doomed: [Int64] = []
            for try await uid in candidates.decode(Int64.self) { doomed.append(uid) }
            guard !doomed.isEmpty else { return [] }
            try await connection.query("""
                UPDATE mailboxes SET highestmodseq = \(highest + 1) WHERE account_id = \(accountID) AND id = \(mailboxID)
                """, logger: logger)
            try await Self.expungeRows(accountID: accountID, mailboxID: mailboxID, uids: doomed, modseq: highest + 1,
                                       on: connection, logger: logger)
            return doomed.map { UInt32(truncatingIfNeeded: $0) }
        }
    }

    /// Locks the mailbox row (changes to one mailbox are serialised on it) and returns its
    /// highestmodseq; `.notFound` when the account has no such mailbox.
    static func lockMailbox(accountID: Int64, mailboxID: Int64, on connection: PostgresConnection,
                            logger: Logger) async throws -> Int64 {
        let rows = try await connection.query("""
            SELECT highestmodseq FROM mailboxes WHERE account_id = \(accountID) AND id = \(mailboxID) FOR NO KEY UPDATE
            """, logger: logger)
        for try await value in rows.decode(Int64.self) { return value }
        throw StoreError(.notFound, "mailbox does not exist")
    }

    /// Deletes message rows and records them in the expunge log at `modseq`. The caller holds
    /// the account and mailbox locks and has bumped the mailbox's highestmodseq to `modseq`.
    static func expungeRows(accountID: Int64, mailboxID: Int64, uids: [Int64], modseq: Int64,
                            on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("""
            DELETE FROM messages WHERE account_id = \(accountID) AND mailbox_id = \(mailboxID) AND uid = ANY(\(uids)::bigint[])
            """, logger: logger)
        try await connection.query("""
            INSERT INTO expunged_messages (account_id, mailbox_id, uid, modseq)
            SELECT \(accountID), \(mailboxID), unnest(\(uids)::bigint[]), \(modseq)
            ON CONFLICT (account_id, mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq
            """, logger: logger)
    }
}
