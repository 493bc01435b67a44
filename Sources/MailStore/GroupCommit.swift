/// Group commit for accepted messages (PRODUCT.md: "group commit and batching are fair").
///
/// At most `maximumInFlight` accept transactions run at once. A message that arrives while all
/// of them are busy waits, and the next transaction takes every waiting message (up to
/// `maximumBatch`) together: one BEGIN, one COMMIT and one WAL flush for all of them. Under
/// light load every message gets a transaction of its own at once, so nobody waits for a
/// batch to fill. Each message still succeeds or fails on its own (`acceptTogether`), and no
/// caller hears of success before the COMMIT that made its message durable.
public actor GroupCommit {
    public let store: MessageStore
    public let maximumInFlight: Int
    public let maximumBatch: Int

    private var waiting: [(InboundMessage, CheckedContinuation<[StoredMessage], any Error>)] = []
    private var inFlight = 0

    public init(store: MessageStore, maximumInFlight: Int = 2, maximumBatch: Int = 64) {
        self.store = store
        self.maximumInFlight = max(1, maximumInFlight)
        self.maximumBatch = max(1, maximumBatch)
    }

    /// Stores and queues the message; returns after the COMMIT that holds it.
    public func accept(_ message: InboundMessage) async throws -> [StoredMessage] {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append((message, continuation))
            startIfIdle()
        }
    }

    private func startIfIdle() {
        guard inFlight < maximumInFlight, !waiting.isEmpty else { return }
        let batch = Array(waiting.prefix(maximumBatch))
        waiting.removeFirst(batch.count)
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
