import Logging
import PostgresNIO

/// COPY (RFC 3501 §6.4.7, UIDPLUS COPYUID) and MOVE (RFC 6851).
public struct CopyResult: Sendable, Equatable {
    public var uidValidity: UInt32
    /// Source UID → new UID, in ascending source order.
    public var mapping: [(source: UInt32, destination: UInt32)]

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.uidValidity == rhs.uidValidity && lhs.mapping.elementsEqual(rhs.mapping) { $0 == $1 }
    }
}

extension MessageStore {
    /// Copies the messages of `uids` (those that exist) from one mailbox of the account to
    /// another, flags and internal dates kept, bodies shared. Checks quota; nothing is copied
    /// if the copy would not fit.
    public func copy(accountID: Int64, from source: Int64, uids: UIDSet, to destination: Int64) async throws -> CopyResult {
        try await transfer(accountID: accountID, from: source, uids: uids, to: destination, move: false)
    }

    /// Moves messages atomically: copied into the destination, expunged from the source (with
    /// expunge-log entries), in one transaction. Usage does not change, so quota is not checked.
    public func move(accountID: Int64, from source: Int64, uids: UIDSet, to destination: Int64) async throws -> CopyResult {
        try await transfer(accountID: accountID, from: source, uids: uids, to: destination, move: true)
    }

    private func transfer(accountID: Int64, from source: Int64, uids: UIDSet, to destination: Int64,
                          move: Bool) async throws -> CopyResult {
        guard source != destination || !move else {
            throw StoreError(.invalid, "cannot move messages into the mailbox they are in")
        }
        return try await database.transaction { connection in
            // Lock order: domain and account (adding nothing yet), then both mailboxes by id;
            // only then read the source, so that no expunge can change it under us.
            _ = try await Self.reserveQuota(for: [accountID: (0, 0)], on: connection, logger: logger)
            try await connection.query("""
                SELECT 1 FROM mailboxes WHERE account_id = \(accountID) AND id = ANY(\([source, destination])::bigint[])
                ORDER BY id FOR NO KEY UPDATE
                """, logger: logger)
            let selected = try await connection.query("""
                SELECT uid, size FROM messages
                WHERE account_id = \(accountID) AND mailbox_id = \(source)
                  AND uid BETWEEN \(uids.lowest) AND \(uids.highest) AND uid <@ (SELECT \(uids.multirange)::int8multirange)
                ORDER BY uid
                """, logger: logger)
            var sourceUIDs: [Int64] = []
            var bytes: Int64 = 0
            for try await (uid, size) in selected.decode((Int64, Int64).self) {
                sourceUIDs.append(uid)
                bytes += size
            }
            if !move {
                let fits = try await Self.reserveQuota(for: [accountID: (bytes, Int64(sourceUIDs.count))],
                                                       on: connection, logger: logger)
                if !fits.fits.contains(accountID) { throw StoreError(.overQuota, "mailbox full: quota exceeded") }
            }
            var requests = [(DeliveryTarget(accountID: accountID, mailboxID: destination), sourceUIDs.count)]
            if move { requests.append((DeliveryTarget(accountID: accountID, mailboxID: source), 0)) }
            let allocations = try await Self.allocateUIDs(requests, on: connection, logger: logger)
            guard let allocation = allocations[DeliveryTarget(accountID: accountID, mailboxID: destination)] else {
                throw StoreError(.notFound, "the destination mailbox does not exist")
            }
            if move && allocations[DeliveryTarget(accountID: accountID, mailboxID: source)] == nil {
                throw StoreError(.notFound, "the source mailbox does not exist")
            }
            guard !sourceUIDs.isEmpty else { return CopyResult(uidValidity: allocation.uidValidity, mapping: []) }
            let first = Int64(allocation.firstUID)
            try await connection.query("""
                INSERT INTO messages (account_id, mailbox_id, uid, body_id, modseq, flags, keywords, internal_date, size,
                                      header_prefix)
                SELECT account_id, \(destination), \(first) - 1 + row_number() OVER (ORDER BY uid), body_id,
                       \(allocation.modseq), flags, keywords, internal_date, size, header_prefix
                FROM messages WHERE account_id = \(accountID) AND mailbox_id = \(source) AND uid = ANY(\(sourceUIDs)::bigint[])
                """, logger: logger)
            if move, let sourceAllocation = allocations[DeliveryTarget(accountID: accountID, mailboxID: source)] {
                try await Self.expungeRows(accountID: accountID, mailboxID: source, uids: sourceUIDs,
                                           modseq: sourceAllocation.modseq, on: connection, logger: logger)
            }
            let mapping = sourceUIDs.enumerated().map { (UInt32(truncatingIfNeeded: $0.element), UInt32(truncatingIfNeeded: first + Int64($0.offset))) }
            return CopyResult(uidValidity: allocation.uidValidity, mapping: mapping.map { (source: $0.0, destination: $0.1) })
        }
    }
}
