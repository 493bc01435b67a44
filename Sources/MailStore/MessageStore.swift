import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Messages in mailboxes: delivery, append, copy, move, flags, expunge, reads. Every call takes
/// the account id first, and every statement filters on it, so no call reaches another
/// account's rows. Each operation is one short transaction; quota usage, mailbox counters,
/// body reference counts and change events are kept by the triggers of migration 0003 in that
/// same transaction. Lock order: domain, accounts (by id), mailboxes (by id), messages.
public struct MessageStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    var logger: Logger { database.logger }
}

/// Where a delivered copy goes.
public struct DeliveryTarget: Sendable, Hashable, Comparable {
    public var accountID: Int64
    public var mailboxID: Int64

    public init(accountID: Int64, mailboxID: Int64) {
        self.accountID = accountID
        self.mailboxID = mailboxID
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.accountID, lhs.mailboxID) < (rhs.accountID, rhs.mailboxID)
    }
}

/// A stored copy: the UID it got (and the mailbox's UIDVALIDITY, for APPENDUID / COPYUID).
public struct StoredMessage: Sendable, Equatable {
    public var target: DeliveryTarget
    public var uidValidity: UInt32
    public var uid: UInt32
    public var modseq: Int64
}

/// What one delivery did for each target.
public struct DeliveryOutcome: Sendable {
    public var stored: [StoredMessage] = []
    /// Targets refused, with why: `.overQuota` (account or domain full) or `.notFound`
    /// (mailbox deleted or not selectable).
    public var refused: [(target: DeliveryTarget, error: StoreError)] = []
}

extension MessageStore {
    /// Stores one message into many mailboxes in one transaction: the raw bytes once (or not at
    /// all when identical content is stored already), one row per target. Targets over quota or
    /// gone are refused and the rest delivered; nothing is stored unless the transaction commits.
    public func deliver(_ message: PreparedMessage, to targets: [DeliveryTarget], flags: MessageFlags = [],
                        keywords: [String] = [], internalDate: Date = Date()) async throws -> DeliveryOutcome {
        let targets = Array(Set(targets)).sorted()
        guard !targets.isEmpty else { return DeliveryOutcome() }
        return try await database.transaction { connection in
            var outcome = DeliveryOutcome()
            let bodyID = try await Self.storeBody(message, on: connection, logger: logger)
            var additions: [Int64: (bytes: Int64, messages: Int64)] = [:]
            for target in targets {
                additions[target.accountID, default: (0, 0)].bytes += Int64(message.size)
                additions[target.accountID, default: (0, 0)].messages += 1
            }
            let accepted = try await Self.reserveQuota(for: additions, on: connection, logger: logger)
            var wanted: [DeliveryTarget] = []
            for target in targets {
                if accepted.fits.contains(target.accountID) {
                    wanted.append(target)
                } else if accepted.existing.contains(target.accountID) {
                    outcome.refused.append((target, StoreError(.overQuota, "mailbox full: quota exceeded")))
                } else {
                    outcome.refused.append((target, StoreError(.notFound, "account does not exist")))
                }
            }
            let allocated = try await Self.allocateUIDs(wanted.map { ($0, 1) }, on: connection, logger: logger)
            for target in wanted where allocated[target] == nil {
                outcome.refused.append((target, StoreError(.notFound, "mailbox does not exist or cannot hold messages")))
            }
            let rows = wanted.compactMap { target in allocated[target].map { (target, $0) } }
            if !rows.isEmpty {
                try await connection.query("""
                    INSERT INTO messages (account_id, mailbox_id, uid, body_id, modseq, flags, keywords, internal_date, size)
                    SELECT a, m, u, \(bodyID), s, \(flags.rawValue), \(keywords)::text[], \(internalDate), \(Int64(message.size))
                    FROM unnest(\(rows.map(\.0.accountID))::bigint[], \(rows.map(\.0.mailboxID))::bigint[],
                                \(rows.map { Int64($0.1.firstUID) })::bigint[], \(rows.map(\.1.modseq))::bigint[]) AS t(a, m, u, s)
                    """, logger: logger)
            }
            for (target, allocation) in rows {
                outcome.stored.append(StoredMessage(target: target, uidValidity: allocation.uidValidity,
                                                    uid: allocation.firstUID, modseq: allocation.modseq))
            }
            // A new body that no target took is not kept.
            try await connection.query("DELETE FROM message_bodies WHERE id = \(bodyID) AND refcount = 0", logger: logger)
            return outcome
        }
    }

    /// IMAP APPEND (RFC 3501 §6.3.11): one message into one mailbox, with flags and date.
    /// Throws `.overQuota` or `.notFound` instead of storing.
    public func append(accountID: Int64, mailboxID: Int64, message: PreparedMessage, flags: MessageFlags = [],
                       keywords: [String] = [], internalDate: Date = Date()) async throws -> StoredMessage {
        let target = DeliveryTarget(accountID: accountID, mailboxID: mailboxID)
        let outcome = try await deliver(message, to: [target], flags: flags, keywords: keywords, internalDate: internalDate)
        if let stored = outcome.stored.first { return stored }
        throw outcome.refused.first?.error ?? StoreError(.notFound, "mailbox does not exist")
    }

    /// Inserts the body unless the same content is stored; returns its id (`petrel_store_body`,
    /// migration 0005: the existing row stays locked until commit, so a concurrent expunge of its
    /// last reference cannot free it under us).
    static func storeBody(_ message: PreparedMessage, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        let rows = try await connection.query("""
            SELECT petrel_store_body(\(ByteBuffer(bytes: message.sha256)), \(Int64(message.size)), \(ByteBuffer(bytes: message.raw)),
                                     \(ByteBuffer(bytes: message.envelope)), \(ByteBuffer(bytes: message.bodyStructure)),
                                     \(ByteBuffer(bytes: message.body)), \(message.structureJSON)::jsonb, \(message.sentOn)::date,
                                     \(message.headerText), \(message.bodyText), \(message.searchWords)::text[])
            """, logger: logger)
        for try await id in rows.decode(Int64.self) { return id }
        throw StoreError(.temporary, "message body was not stored")
    }

    /// Locks the domains (with quotas) and accounts involved, in order, and checks that each
    /// account can take what `wanted` adds to it (`petrel_reserve_quota`, migration 0005). Returns
    /// the accounts that fit and those that exist. Usage itself is added by the insert trigger in
    /// the same transaction, under these locks.
    static func reserveQuota(for wanted: [Int64: (bytes: Int64, messages: Int64)], on connection: PostgresConnection,
                             logger: Logger) async throws -> (fits: Set<Int64>, existing: Set<Int64>) {
        let accountIDs = wanted.keys.sorted()
        let rows = try await connection.query("""
            SELECT account_id, fits FROM petrel_reserve_quota(\(accountIDs)::bigint[],
                \(accountIDs.map { wanted[$0]!.bytes })::bigint[], \(accountIDs.map { wanted[$0]!.messages })::bigint[])
            """, logger: logger)
        var fits = Set<Int64>()
        var existing = Set<Int64>()
        for try await (id, fit) in rows.decode((Int64, Bool).self) {
            existing.insert(id)
            if fit { fits.insert(id) }
        }
        return (fits, existing)
    }

    struct Allocation {
        var uidValidity: UInt32
        var firstUID: UInt32
        var modseq: Int64
    }

    /// Takes `count` UIDs and one new modseq in each selectable mailbox, locking the mailbox rows
    /// in order first (`petrel_allocate_uids`, migration 0005). Mailboxes that do not exist or
    /// are \Noselect are left out of the result.
    static func allocateUIDs(_ requests: [(DeliveryTarget, Int)], on connection: PostgresConnection,
                             logger: Logger) async throws -> [DeliveryTarget: Allocation] {
        guard !requests.isEmpty else { return [:] }
        let sorted = requests.sorted { $0.0 < $1.0 }
        let rows = try await connection.query("""
            SELECT account_id, mailbox_id, uidvalidity, first_uid, modseq FROM petrel_allocate_uids(
                \(sorted.map(\.0.accountID))::bigint[], \(sorted.map(\.0.mailboxID))::bigint[], \(sorted.map { Int64($0.1) })::bigint[])
            """, logger: logger)
        var result: [DeliveryTarget: Allocation] = [:]
        for try await (account, mailbox, validity, first, modseq) in rows.decode((Int64, Int64, Int64, Int64, Int64).self) {
            result[DeliveryTarget(accountID: account, mailboxID: mailbox)] =
                Allocation(uidValidity: UInt32(truncatingIfNeeded: validity), firstUID: UInt32(truncatingIfNeeded: first), modseq: modseq)
        }
        return result
    }
}
