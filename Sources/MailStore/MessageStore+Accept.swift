import Foundation
import Logging
import NIOCore
import PostgresNIO

/// One local copy of an accepted message.
public struct LocalCopy: Sendable {
    public var target: DeliveryTarget
    /// This copy's own trace lines, served in front of the shared body (`Return-Path:`,
    /// `Delivered-To:`), CR LF terminated.
    public var headerPrefix: [UInt8]
    /// The recipient it is for, for errors and logs.
    public var recipient: String

    public init(target: DeliveryTarget, headerPrefix: [UInt8], recipient: String) {
        self.target = target
        self.headerPrefix = headerPrefix
        self.recipient = recipient
    }
}

/// A message an SMTP session accepted: stored for the local recipients and queued for the
/// remote ones by `MessageStore.accept`, in one transaction.
public struct InboundMessage: Sendable {
    public var queueID: String
    /// The envelope sender, "" for the null sender `<>`.
    public var sender: String
    public var message: PreparedMessage
    public var local: [LocalCopy]
    public var remote: [String]
    /// Client address and HELO name, kept with queued mail.
    public var client: String
    /// The authenticated account that submitted it, if any.
    public var accountID: Int64?
    public var smtputf8: Bool
    public var body8bit: Bool

    public init(queueID: String, sender: String, message: PreparedMessage, local: [LocalCopy], remote: [String],
                client: String, accountID: Int64?, smtputf8: Bool, body8bit: Bool) {
        self.queueID = queueID
        self.sender = sender
        self.message = message
        self.local = local
        self.remote = remote
        self.client = client
        self.accountID = accountID
        self.smtputf8 = smtputf8
        self.body8bit = body8bit
    }
}

extension MessageStore {
    /// The SMTP durability contract (PRODUCT.md): the body once, one mailbox row per local
    /// copy, one queue row per remote recipient, all in ONE transaction. Returns once it has
    /// committed; throws (and stores nothing) otherwise. All or nothing: when a local account
    /// went over quota between RCPT and the end of DATA, the whole message is refused with
    /// `.overQuota` naming it, so that the client retries later rather than some recipients
    /// silently losing their copy.
    public func accept(_ inbound: InboundMessage) async throws -> [StoredMessage] {
        // One copy per mailbox: two RCPTs that resolve to one account deliver once.
        var seen = Set<DeliveryTarget>()
        let copies = inbound.local.filter { seen.insert($0.target).inserted }.sorted { $0.target < $1.target }
        let remote = Array(Set(inbound.remote)).sorted()
        guard !copies.isEmpty || !remote.isEmpty else { return [] }
        return try await database.transaction { connection in
            let bodyID = try await Self.storeBody(inbound.message, on: connection, logger: logger)
            var stored: [StoredMessage] = []
            if !copies.isEmpty {
                var additions: [Int64: (bytes: Int64, messages: Int64)] = [:]
                for copy in copies {
                    additions[copy.target.accountID, default: (0, 0)].bytes += Int64(inbound.message.size + copy.headerPrefix.count)
                    additions[copy.target.accountID, default: (0, 0)].messages += 1
                }
                let quota = try await Self.reserveQuota(for: additions, on: connection, logger: logger)
                if let full = copies.first(where: { !quota.fits.contains($0.target.accountID) }) {
                    let kind: StoreError.Kind = quota.existing.contains(full.target.accountID) ? .overQuota : .notFound
                    throw StoreError(kind, "\(full.recipient): " + (kind == .overQuota ? "mailbox full" : "account is gone"))
                }
                let allocated = try await Self.allocateUIDs(copies.map { ($0.target, 1) }, on: connection, logger: logger)
                if let gone = copies.first(where: { allocated[$0.target] == nil }) {
                    throw StoreError(.notFound, "\(gone.recipient): mailbox is gone")
                }
                let uids = copies.map { Int64(allocated[$0.target]!.firstUID) }
                let modseqs = copies.map { allocated[$0.target]!.modseq }
                let sizes = copies.map { Int64(inbound.message.size + $0.headerPrefix.count) }
                let prefixes = copies.map { ByteBuffer(bytes: $0.headerPrefix) }
                try await connection.query("""
                    INSERT INTO messages (account_id, mailbox_id, uid, body_id, modseq, flags, keywords, internal_date, size,
                                          header_prefix)
                    SELECT a, m, u, \(bodyID), s, 0, '{}', now(), z, p
                    FROM unnest(\(copies.map(\.target.accountID))::bigint[], \(copies.map(\.target.mailboxID))::bigint[],
                                \(uids)::bigint[], \(modseqs)::bigint[], \(sizes)::bigint[], \(prefixes)::bytea[])
                         AS t(a, m, u, s, z, p)
                    """, logger: logger)
                for copy in copies {
                    let a = allocated[copy.target]!
                    stored.append(StoredMessage(target: copy.target, uidValidity: a.uidValidity, uid: a.firstUID, modseq: a.modseq))
                }
            }
            if !remote.isEmpty {
                try await connection.query("""
                    INSERT INTO outbound_messages (id, body_id, sender, size, client, account_id, smtputf8, body_8bit)
                    VALUES (\(inbound.queueID), \(bodyID), \(inbound.sender), \(Int64(inbound.message.size)), \(inbound.client),
                            \(inbound.accountID), \(inbound.smtputf8), \(inbound.body8bit))
                    """, logger: logger)
                try await connection.query("""
                    INSERT INTO outbound_recipients (message_id, recipient)
                    SELECT \(inbound.queueID), r FROM unnest(\(remote)::text[]) AS t(r)
                    """, logger: logger)
            }
            return stored
        }
    }

    /// Every queued remote recipient, as `queue-id recipient` (oldest first).
    public func allQueuedRecipients() async throws -> [String] {
        let rows = try await database.query("""
            SELECT r.message_id, r.recipient FROM outbound_recipients r
            JOIN outbound_messages m ON m.id = r.message_id ORDER BY m.created_at, r.recipient
            """)
        var out: [String] = []
        for try await (id, recipient) in rows.decode((String, String).self) { out.append("\(id) \(recipient)") }
        return out
    }
}
