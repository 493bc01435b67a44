import Foundation
import Logging
import NIOConcurrencyHelpers
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
        try await acceptTogether([inbound])[0].get()
    }

    /// Group commit: several messages in ONE transaction, each still all or nothing on its own
    /// (`petrel_accept` undoes a refused message in a subtransaction). One result per message,
    /// in order; none is a success unless COMMIT returned. When a statement fails (not a
    /// refusal: a deadlock, a lost connection) before COMMIT was sent, nothing was committed and
    /// each message is tried again in a transaction of its own, so one bad message cannot fail
    /// the others. A failed COMMIT fails them all (it may have committed: never store twice).
    public func acceptTogether(_ messages: [InboundMessage]) async -> [Result<[StoredMessage], any Error>] {
        let statementFailed = NIOLockedValueBox(false)
        do {
            return try await database.transaction { connection in
                var results: [Result<[StoredMessage], any Error>] = []
                if messages.count > 1 {
                    // Every row lock of the batch up front, in id order (`petrel_lock_targets`):
                    // two batches never wait on each other.
                    let targets = messages.flatMap { $0.local.map(\.target) }
                    do {
                        try await connection.query("""
                            SELECT petrel_lock_targets(\(targets.map(\.accountID))::bigint[], \(targets.map(\.mailboxID))::bigint[])
                            """, logger: logger)
                    } catch {
                        statementFailed.withLockedValue { $0 = true }
                        throw error
                    }
                }
                for inbound in messages {
                    do {
                        results.append(.success(try await Self.acceptOne(inbound, on: connection, logger: logger)))
                    } catch let refusal as Refusal {
                        results.append(.failure(refusal.error))
                    } catch {
                        statementFailed.withLockedValue { $0 = true }
                        throw error
                    }
                }
                return results
            }
        } catch {
            guard messages.count > 1, statementFailed.withLockedValue({ $0 }) else {
                return messages.map { _ in .failure(error) }
            }
            var results: [Result<[StoredMessage], any Error>] = []
            for inbound in messages { results.append(await acceptTogether([inbound])[0]) }
            return results
        }
    }

    /// A message refused on its own (quota, a vanished account or mailbox); the transaction
    /// goes on.
    struct Refusal: Error {
        var error: StoreError
    }

    /// One message in the caller's transaction (`petrel_accept`, migrations 0005 and 0006). Throws
    /// `Refusal` when it was refused (and nothing of it written), anything else when the
    /// statement failed.
    static func acceptOne(_ inbound: InboundMessage, on connection: PostgresConnection, logger: Logger) async throws
        -> [StoredMessage] {
        // One copy per mailbox: two RCPTs that resolve to one account deliver once.
        var seen = Set<DeliveryTarget>()
        let copies = inbound.local.filter { seen.insert($0.target).inserted }.sorted { $0.target < $1.target }
        let remote = Array(Set(inbound.remote)).sorted()
        guard !copies.isEmpty || !remote.isEmpty else { return [] }
        let message = inbound.message
        let rows = try await connection.query("""
            SELECT status, account_id, mailbox_id, uidvalidity, uid, modseq FROM petrel_accept(
                \(ByteBuffer(bytes: message.sha256)), \(Int64(message.size)), \(ByteBuffer(bytes: message.raw)),
                \(ByteBuffer(bytes: message.envelope)), \(ByteBuffer(bytes: message.bodyStructure)),
                \(ByteBuffer(bytes: message.body)), \(message.structureJSON)::jsonb, \(message.sentOn)::date,
                \(message.headerText), \(message.bodyText), \(message.searchWords)::text[],
                \(copies.map(\.target.accountID))::bigint[], \(copies.map(\.target.mailboxID))::bigint[],
                \(copies.map { ByteBuffer(bytes: $0.headerPrefix) })::bytea[],
                \(inbound.queueID), \(inbound.sender), \(inbound.client), \(inbound.accountID),
                \(inbound.smtputf8), \(inbound.body8bit), \(remote)::text[])
            """, logger: logger)
        var stored: [StoredMessage] = []
        var refused: StoreError?
        for try await (status, account, mailbox, validity, uid, modseq)
            in rows.decode((String, Int64, Int64, Int64?, Int64?, Int64?).self) {
            let target = DeliveryTarget(accountID: account, mailboxID: mailbox)
            guard status == "stored", let validity, let uid, let modseq else {
                // The first refusal (copies are in target order) names its recipient.
                if refused == nil {
                    let recipient = copies.first { $0.target == target }?.recipient ?? "\(account)"
                    switch status {
                    case "over_quota": refused = StoreError(.overQuota, "\(recipient): mailbox full")
                    case "no_account": refused = StoreError(.notFound, "\(recipient): account is gone")
                    default: refused = StoreError(.notFound, "\(recipient): mailbox is gone")
                    }
                }
                continue
            }
            stored.append(StoredMessage(target: target, uidValidity: UInt32(truncatingIfNeeded: validity),
                                        uid: UInt32(truncatingIfNeeded: uid), modseq: modseq))
        }
        if let refused { throw Refusal(error: refused) }
        guard stored.count == copies.count else {
            // Cannot happen (the function refuses instead); never let a partial message commit.
            throw StoreError(.temporary, "\(copies.count - stored.count) copies were not stored")
        }
        return stored.sorted { $0.target < $1.target }
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
