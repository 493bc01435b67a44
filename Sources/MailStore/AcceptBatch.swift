import NIOCore
import PostgresNIO

/// A batch of accepted messages as the arrays of `petrel_accept_batch` (migration 0010), and
/// its answer back as one result per message.
struct AcceptBatch {
    /// One message's local copies, one per mailbox (two RCPTs that resolve to one account
    /// deliver once), in target order; and its remote recipients, distinct and sorted.
    struct Entry {
        var inbound: InboundMessage
        var copies: [LocalCopy]
        var remote: [String]
    }

    let entries: [Entry]

    init(_ messages: [InboundMessage]) {
        entries = messages.map { inbound in
            var seen = Set<DeliveryTarget>()
            let copies = inbound.local.filter { seen.insert($0.target).inserted }.sorted { $0.target < $1.target }
            return Entry(inbound: inbound, copies: copies, remote: Array(Set(inbound.remote)).sorted())
        }
    }

    /// The CALL. Arrays cannot carry NULLs from here: the procedure reads '' as no date, 0 as
    /// no submitter, and `hasWords` false as "make the words in the database".
    var statement: PostgresQuery {
        let messages = entries.map(\.inbound.message)
        // Copies and remote recipients in message order, each with its message's number (from 1).
        var copyMessage: [Int32] = [], remoteMessage: [Int32] = []
        var copies: [LocalCopy] = [], remote: [String] = []
        for (i, entry) in entries.enumerated() {
            copyMessage += Array(repeating: Int32(i + 1), count: entry.copies.count)
            copies += entry.copies
            remoteMessage += Array(repeating: Int32(i + 1), count: entry.remote.count)
            remote += entry.remote
        }
        return """
            CALL petrel_accept_batch(
                \(messages.map { ByteBuffer(bytes: $0.sha256) })::bytea[], \(messages.map { Int64($0.size) })::bigint[],
                \(messages.map { ByteBuffer(bytes: $0.raw) })::bytea[], \(messages.map { ByteBuffer(bytes: $0.envelope) })::bytea[],
                \(messages.map { ByteBuffer(bytes: $0.bodyStructure) })::bytea[],
                \(messages.map { ByteBuffer(bytes: $0.body) })::bytea[], \(messages.map(\.structureJSON))::text[],
                \(messages.map { $0.sentOn ?? "" })::text[], \(messages.map(\.headerText))::text[],
                \(messages.map(\.bodyText))::text[], \(messages.map { $0.searchWords?.joined(separator: " ") ?? "" })::text[],
                \(messages.map { $0.searchWords != nil })::boolean[],
                \(entries.map(\.inbound.queueID))::text[], \(entries.map(\.inbound.sender))::text[],
                \(entries.map(\.inbound.client))::text[], \(entries.map { $0.inbound.accountID ?? 0 })::bigint[],
                \(entries.map(\.inbound.smtputf8))::boolean[], \(entries.map(\.inbound.body8bit))::boolean[],
                \(copyMessage)::integer[], \(copies.map(\.target.accountID))::bigint[],
                \(copies.map(\.target.mailboxID))::bigint[], \(copies.map { ByteBuffer(bytes: $0.headerPrefix) })::bytea[],
                \(remoteMessage)::integer[], \(remote)::text[],
                NULL, NULL, NULL, NULL, NULL, NULL, NULL)
            """
    }

    /// One result per message, from the procedure's row: the stored copies, or the message's
    /// refusal (`StoreError` naming the first recipient at fault).
    func results(from rows: PostgresRowSequence) async throws -> [Result<[StoredMessage], any Error>] {
        var stored = Array(repeating: [StoredMessage](), count: entries.count)
        var refused = [StoreError?](repeating: nil, count: entries.count)
        var answered = false
        for try await (message, status, account, mailbox, validity, uid, modseq)
            in rows.decode(([Int32], [String], [Int64], [Int64], [Int64], [Int64], [Int64]).self) {
            answered = true
            guard [status.count, account.count, mailbox.count, validity.count, uid.count, modseq.count]
                .allSatisfy({ $0 == message.count }) else {
                throw StoreError(.temporary, "petrel_accept_batch answered arrays of different lengths")
            }
            for k in message.indices {
                let i = Int(message[k]) - 1
                guard entries.indices.contains(i) else {
                    throw StoreError(.temporary, "petrel_accept_batch answered for message \(i + 1) of \(entries.count)")
                }
                let target = DeliveryTarget(accountID: account[k], mailboxID: mailbox[k])
                if status[k] == "stored" {
                    stored[i].append(StoredMessage(target: target, uidValidity: UInt32(truncatingIfNeeded: validity[k]),
                                                   uid: UInt32(truncatingIfNeeded: uid[k]), modseq: modseq[k]))
                } else if refused[i] == nil {
                    // The first refusal (copies are in target order) names its recipient.
                    refused[i] = Self.refusal(status[k], target: target, copies: entries[i].copies)
                }
            }
        }
        guard answered else { throw StoreError(.temporary, "petrel_accept_batch returned no row") }
        return entries.indices.map { i in
            if let error = refused[i] { return .failure(error) }
            // Cannot happen (the procedure refuses the whole message instead); never report a
            // partial message as stored. It committed, so this is not retried either.
            guard stored[i].count == entries[i].copies.count else {
                return .failure(StoreError(.temporary, "\(entries[i].copies.count - stored[i].count) copies were not stored"))
            }
            return .success(stored[i].sorted { $0.target < $1.target })
        }
    }

    static func refusal(_ status: String, target: DeliveryTarget, copies: [LocalCopy]) -> StoreError {
        let recipient = copies.first { $0.target == target }?.recipient ?? "\(target.accountID)"
        switch status {
        case "over_quota": return StoreError(.overQuota, "\(recipient): mailbox full")
        case "no_account": return StoreError(.notFound, "\(recipient): account is gone")
        default: return StoreError(.notFound, "\(recipient): mailbox is gone")
        }
    }

    /// Whether `error`, raised by the CALL, proves that nothing of the batch committed: an
    /// ERROR the work itself raises (bad data, a constraint, a deadlock or lock failure). Any
    /// other error — a cancel or a shutdown that may have come after the COMMIT inside, a lost
    /// connection — leaves it unknown.
    static func provesNothingCommitted(_ error: any Error) -> Bool {
        guard let psql = error as? PSQLError, psql.code == .server,
              psql.serverInfo?[.severity] == "ERROR", let state = psql.serverInfo?[.sqlState] else { return false }
        return ["22", "23", "40", "55"].contains(String(state.prefix(2)))
    }
}
