import Foundation
import Logging
import PostgresNIO

/// A queued message with the recipients a worker has leased.
public struct QueuedMessage: Sendable, Equatable {
    public var id: String
    /// "" for the null sender.
    public var sender: String
    public var bodyID: Int64
    public var size: Int64
    public var smtputf8: Bool
    public var body8bit: Bool
    /// The submitting account, if a local user submitted it (DKIM signs those).
    public var accountID: Int64?
    public var createdAt: Date
    /// A delay warning went to the sender already (migration 0008).
    public var delayWarned = false
    public var recipients: [QueuedRecipient]
}

public struct QueuedRecipient: Sendable, Equatable {
    public var address: String
    /// Attempts made before this one.
    public var attempts: Int
    public var lastError: String?
}

/// The outcome of one attempt for one recipient, as the queue records it.
public enum QueueResult: Sendable {
    /// Delivered, or bounced: the row goes.
    case done
    /// Leave it queued: next try at `next`, with the reason.
    case retry(next: Date, error: String)
}

/// The shared outbound queue (migration 0004): one row per remote recipient, claimed by the
/// workers of every node with `FOR UPDATE SKIP LOCKED` and a lease (owner and expiry). A row
/// whose lease has run out — its node died mid-delivery — is claimed again by any node.
public struct OutboundQueue: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Leases up to `limit` due recipients to `owner` for `lease`, grouped by message.
    public func claim(owner: String, limit: Int, lease: Duration) async throws -> [QueuedMessage] {
        let seconds = Double(lease.components.seconds)
        let claimed = try await database.query("""
            WITH due AS (
                SELECT message_id, recipient FROM outbound_recipients
                WHERE status = 'queued' AND next_attempt_at <= now() AND (lease_expires IS NULL OR lease_expires <= now())
                ORDER BY next_attempt_at LIMIT \(Int64(limit)) FOR UPDATE SKIP LOCKED)
            UPDATE outbound_recipients r SET lease_owner = \(owner), lease_expires = now() + make_interval(secs => \(seconds))
            FROM due WHERE r.message_id = due.message_id AND r.recipient = due.recipient
            RETURNING r.message_id, r.recipient, r.attempts, r.last_error
            """)
        var byMessage: [String: [QueuedRecipient]] = [:]
        for try await (id, recipient, attempts, error) in claimed.decode((String, String, Int32, String?).self) {
            byMessage[id, default: []].append(QueuedRecipient(address: recipient, attempts: Int(attempts), lastError: error))
        }
        guard !byMessage.isEmpty else { return [] }
        let rows = try await database.query("""
            SELECT id, sender, body_id, size, smtputf8, body_8bit, account_id, created_at, delay_warned FROM outbound_messages
            WHERE id = ANY(\(Array(byMessage.keys))::text[]) ORDER BY created_at, id
            """)
        var out: [QueuedMessage] = []
        for try await (id, sender, body, size, utf8, eightBit, account, created, warned)
            in rows.decode((String, String, Int64, Int64, Bool, Bool, Int64?, Date, Bool).self) {
            out.append(QueuedMessage(id: id, sender: sender, bodyID: body, size: size, smtputf8: utf8, body8bit: eightBit,
                                     accountID: account, createdAt: created, delayWarned: warned,
                                     recipients: (byMessage[id] ?? []).sorted { $0.address < $1.address }))
        }
        return out
    }

    /// The raw message of a queued message.
    public func raw(bodyID: Int64) async throws -> [UInt8] {
        let rows = try await database.query("SELECT raw FROM message_bodies WHERE id = \(bodyID)")
        for try await raw in rows.decode(ByteBuffer.self) { return Array(raw.readableBytesView) }
        throw StoreError(.notFound, "message body \(bodyID) is gone")
    }

    /// Takes the right to send a message's one delay warning: true for exactly one caller,
    /// whichever node it runs on. `release` gives it back when the warning could not be sent.
    public func claimDelayWarning(messageID: String, release: Bool = false) async throws -> Bool {
        let rows = try await database.query("""
            UPDATE outbound_messages SET delay_warned = \(!release) WHERE id = \(messageID) AND delay_warned = \(release)
            RETURNING id
            """)
        do {
            for try await _ in rows { return true }
        } catch {
            throw database.mapError(error)
        }
        return false
    }

    /// Records an attempt's outcomes for the recipients `owner` still leases (a recipient whose
    /// lease another node took over is left to that node), and drops the message once it has
    /// no recipient left. One transaction.
    public func record(messageID: String, owner: String, results: [String: QueueResult]) async throws {
        var done: [String] = []
        var retry: [(String, Date, String)] = []
        for (recipient, result) in results {
            switch result {
            case .done: done.append(recipient)
            case .retry(let next, let error): retry.append((recipient, next, String(error.prefix(1000))))
            }
        }
        try await database.transaction { connection in
            if !done.isEmpty {
                try await connection.query("""
                    DELETE FROM outbound_recipients
                    WHERE message_id = \(messageID) AND recipient = ANY(\(done)::text[]) AND lease_owner = \(owner)
                    """, logger: database.logger)
            }
            if !retry.isEmpty {
                try await connection.query("""
                    UPDATE outbound_recipients r SET attempts = r.attempts + 1, next_attempt_at = t.next, last_error = t.error,
                                                     lease_owner = NULL, lease_expires = NULL
                    FROM unnest(\(retry.map(\.0))::text[], \(retry.map(\.1))::timestamptz[], \(retry.map(\.2))::text[]) AS t(recipient, next, error)
                    WHERE r.message_id = \(messageID) AND r.recipient = t.recipient AND r.lease_owner = \(owner)
                    """, logger: database.logger)
            }
            try await connection.query("""
                DELETE FROM outbound_messages m WHERE m.id = \(messageID)
                AND NOT EXISTS (SELECT 1 FROM outbound_recipients r WHERE r.message_id = m.id)
                """, logger: database.logger)
        }
    }
}
