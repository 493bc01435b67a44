/// Group commit for accepted messages (PRODUCT.md: "group commit and batching are fair").
///
/// At most `maximumInFlight` accept transactions run at once. A message that arrives while all
/// of them are busy waits, and the next transaction takes every waiting message (up to
/// `maximumBatch` messages and `maximumBatchBytes` of them, but always at least one) together:
/// one round trip, one COMMIT and one WAL flush for all of them. The byte cap keeps a batch of
/// large messages well under PostgreSQL's 1 GB limit on one value (the batch's bodies travel
/// as one `bytea[]`). Under
/// light load every message gets a transaction of its own at once, so nobody waits for a
/// batch to fill. Each message still succeeds or fails on its own (`acceptTogether`), and no
/// caller hears of success before the COMMIT that made its message durable.
public actor GroupCommit {
    public let store: MessageStore
    public let maximumInFlight: Int
    public let maximumBatch: Int
    public let maximumBatchBytes: Int

    private var waiting: [(InboundMessage, CheckedContinuation<[StoredMessage], any Error>)] = []
    private var inFlight = 0

    public init(store: MessageStore, maximumInFlight: Int = 2, maximumBatch: Int = 64,
                maximumBatchBytes: Int = 64 * 1024 * 1024) {
        self.store = store
        self.maximumInFlight = max(1, maximumInFlight)
        self.maximumBatch = max(1, maximumBatch)
        self.maximumBatchBytes = maximumBatchBytes
    }

    /// Stores and queues the message; returns after the COMMIT that holds it.
    public func accept(_ message: InboundMessage) async throws -> [StoredMessage] {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append((message, continuation))
            startIfIdle()
        }
    }

    private func startIfIdle() {
        while inFlight < maximumInFlight, !waiting.isEmpty { startBatch() }
    }

    private func startBatch() {
        var count = 0, bytes = 0
        while count < min(maximumBatch, waiting.count) {
            let size = waiting[count].0.message.size
            if count > 0 && bytes + size > maximumBatchBytes { break }
            bytes += size
            count += 1
        }
        let batch = Array(waiting.prefix(count))
        waiting.removeFirst(count)
        inFlight += 1
        Task { await self.run(batch) }
    }

    private func run(_ batch: [(InboundMessage, CheckedContinuation<[StoredMessage], any Error>)]) async {
        let results = await store.acceptTogether(batch.map(\.0))
        for (entry, result) in zip(batch, results) { entry.1.resume(with: result) }
        inFlight -= 1
        startIfIdle()
    }
}
