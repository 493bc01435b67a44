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

    /// The CALL, a prepared statement (parsed once per pooled connection). Arrays cannot carry
    /// NULLs from here: the procedure reads '' as no date, 0 as no submitter, and `hasWords`
    /// false as "make the words in the database".
    var statement: Statement { Statement(entries: entries) }

    struct Statement: PostgresPreparedStatement {
        static let name = "petrel_accept_batch_v1"
        static let sql = """
            CALL petrel_accept_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                                     $19, $20, $21, $22, $23, $24, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
            """
        static let bindingDataTypes: [PostgresDataType] = [
            .byteaArray, .int8Array, .byteaArray, .byteaArray, .byteaArray, .byteaArray, .textArray, .textArray,
            .textArray, .textArray, .textArray, .boolArray, .textArray, .textArray, .textArray, .int8Array,
            .boolArray, .boolArray, .int4Array, .int8Array, .int8Array, .byteaArray, .int4Array, .textArray,
        ]
        typealias Row = ([Int32], [String], [Int64], [Int64], [Int64], [Int64], [Int64])

        let entries: [Entry]

        func makeBindings() throws -> PostgresBindings {
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
            var b = PostgresBindings(capacity: 24)
            b.append(messages.map { ByteBuffer(bytes: $0.sha256) })
            b.append(messages.map { Int64($0.size) })
            b.append(messages.map { ByteBuffer(bytes: $0.raw) })
            b.append(messages.map { ByteBuffer(bytes: $0.envelope) })
            b.append(messages.map { ByteBuffer(bytes: $0.bodyStructure) })
            b.append(messages.map { ByteBuffer(bytes: $0.body) })
            b.append(messages.map(\.structureJSON))
            b.append(messages.map { $0.sentOn ?? "" })
            b.append(messages.map(\.headerText))
            b.append(messages.map(\.bodyText))
            b.append(messages.map { $0.searchWords?.joined(separator: " ") ?? "" })
            b.append(messages.map { $0.searchWords != nil })
            b.append(entries.map(\.inbound.queueID))
            b.append(entries.map(\.inbound.sender))
            b.append(entries.map(\.inbound.client))
            b.append(entries.map { $0.inbound.accountID ?? 0 })
            b.append(entries.map(\.inbound.smtputf8))
            b.append(entries.map(\.inbound.body8bit))
            b.append(copyMessage)
            b.append(copies.map(\.target.accountID))
            b.append(copies.map(\.target.mailboxID))
            b.append(copies.map { ByteBuffer(bytes: $0.headerPrefix) })
            b.append(remoteMessage)
            b.append(remote)
            return b
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            try row.decode(Row.self)
        }
    }

    /// One result per message, from the procedure's row: the stored copies, or the message's
    /// refusal (`StoreError` naming the first recipient at fault).
    func results(from rows: [Statement.Row]) throws -> [Result<[StoredMessage], any Error>] {
        var stored = Array(repeating: [StoredMessage](), count: entries.count)
        var refused = [StoreError?](repeating: nil, count: entries.count)
        var answered = false
        for (message, status, account, mailbox, validity, uid, modseq) in rows {
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
