import Foundation
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
    /// in order; none is a success unless its COMMIT returned. The batch is one round trip:
    /// `CALL petrel_accept_batch(...)` (migration 0010) does the work and commits before it
    /// answers, so the batch holds its row locks for no round trip at all. When the CALL fails
    /// in a way that proves nothing committed (a constraint, a deadlock), each message is tried
    /// again on its own, so one bad message cannot fail the others; any other failure fails
    /// them all (it may have committed: never store twice).
    public func acceptTogether(_ messages: [InboundMessage]) async -> [Result<[StoredMessage], any Error>] {
        // A message with no recipient left stores nothing, not even its body.
        var results = messages.map { _ in Result<[StoredMessage], any Error>.success([]) }
        let pending = messages.indices.filter { !messages[$0].local.isEmpty || !messages[$0].remote.isEmpty }
        guard !pending.isEmpty else { return results }
        let batch = AcceptBatch(pending.map { messages[$0] })
        do {
            let answers = try batch.results(from: try await database.executeUnmapped(batch.statement))
            for (answer, i) in zip(answers, pending) { results[i] = answer }
        } catch where pending.count > 1 && AcceptBatch.provesNothingCommitted(error) {
            for i in pending { results[i] = await acceptTogether([messages[i]])[0] }
        } catch {
            for i in pending { results[i] = .failure(database.mapError(error)) }
        }
        return results
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
