import Foundation
import PostgresNIO

/// One queued message as `petrel queue list` shows it (Postfix's `postqueue -p`).
public struct QueueEntry: Sendable, Codable, Equatable {
    public struct Recipient: Sendable, Codable, Equatable {
        public var address: String
        /// queued, hold
        public var status: String
        public var attempts: Int
        public var nextAttemptAt: Date
        public var lastError: String?
    }

    public var id: String
    public var sender: String
    public var size: Int64
    public var createdAt: Date
    public var recipients: [Recipient]
}

/// The queue tools' operations (`petrel queue …`), like Postfix's postqueue and postsuper.
extension OutboundQueue {
    /// Every queued message (or the one with `id`), oldest first.
    public func entries(id: String? = nil) async throws -> [QueueEntry] {
        let rows = try await database.query("""
            SELECT m.id, m.sender, m.size, m.created_at, r.recipient, r.status, r.attempts, r.next_attempt_at, r.last_error
            FROM outbound_messages m JOIN outbound_recipients r ON r.message_id = m.id
            WHERE \(id)::text IS NULL OR m.id = \(id)
            ORDER BY m.created_at, m.id, r.recipient
            """)
        var out: [QueueEntry] = []
        for try await (messageID, sender, size, created, recipient, status, attempts, next, error)
            in rows.decode((String, String, Int64, Date, String, String, Int32, Date, String?).self) {
            let entry = QueueEntry.Recipient(address: recipient, status: status, attempts: Int(attempts),
                                             nextAttemptAt: next, lastError: error)
            if out.last?.id == messageID {
                out[out.count - 1].recipients.append(entry)
            } else {
                out.append(QueueEntry(id: messageID, sender: sender, size: size, createdAt: created, recipients: [entry]))
            }
        }
        return out
    }

    /// The raw message of a queued message (`petrel queue show`).
    public func raw(messageID: String) async throws -> [UInt8] {
        let rows = try await database.query("""
            SELECT b.raw FROM outbound_messages m JOIN message_bodies b ON b.id = m.body_id WHERE m.id = \(messageID)
            """)
        for try await raw in rows.decode(ByteBuffer.self) { return Array(raw.readableBytesView) }
        throw StoreError(.notFound, "no queued message \(messageID)")
    }

    /// Makes queued recipients (of one message, or all) due now. Returns how many.
    @discardableResult
    public func flush(id: String?) async throws -> Int {
        try await count("""
            UPDATE outbound_recipients SET next_attempt_at = now()
            WHERE status = 'queued' AND (\(id)::text IS NULL OR message_id = \(id)) RETURNING 1
            """)
    }

    /// Removes a message (or all) from the queue without delivering or bouncing it. Returns how
    /// many messages.
    @discardableResult
    public func delete(id: String?) async throws -> Int {
        try await count("DELETE FROM outbound_messages WHERE \(id)::text IS NULL OR id = \(id) RETURNING 1")
    }

    /// Puts a message's recipients on hold (workers leave them alone) or back in the queue, due
    /// now. Returns how many recipients changed.
    @discardableResult
    public func hold(id: String, _ hold: Bool) async throws -> Int {
        try await count("""
            UPDATE outbound_recipients SET status = \(hold ? "hold" : "queued"), next_attempt_at = now()
            WHERE message_id = \(id) AND status = \(hold ? "queued" : "hold") RETURNING 1
            """)
    }

    func count(_ query: PostgresQuery) async throws -> Int {
        var n = 0
        for try await _ in try await database.query(query) { n += 1 }
        return n
    }
}
