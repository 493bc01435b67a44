/// Group commit for accepted messages (PRODUCT.md: "group commit and batching are fair").
///
/// One accept transaction runs at a time; a message that arrives meanwhile waits, and the next
/// transaction takes every waiting message (up to `maximumBatch` messages and
/// `maximumBatchBytes` of them, but always at least one) together: one round trip, one COMMIT
/// and one WAL flush for all of them. The byte cap keeps a batch of large messages well under
/// PostgreSQL's 1 GB limit on one value (the batch's bodies travel as one `bytea[]`). A
/// transaction that has run for `overlapAfter` (a large message, a row lock held elsewhere)
/// lets another start beside it, up to `maximumInFlight`, so that one slow batch does not hold
/// up every other message. Under light load every message gets a transaction of its own at
/// once, so nobody waits for a batch to fill. Each message still succeeds or fails on its own
/// (`acceptTogether`), and no caller hears of success before the COMMIT that made its message
/// durable.
///
/// Why one at a time: with the SMTP benchmark's load a batch averages about two messages, and
/// a CALL costs PostgreSQL ≈ 0.8 ms however few it carries; letting only one run at a time
/// makes the batches larger, and the rates rose by ≈ 5 % (docs/benchmarks.md).
public actor GroupCommit {
    public let store: MessageStore
    public let maximumInFlight: Int
    public let maximumBatch: Int
    public let maximumBatchBytes: Int
    public let overlapAfter: Duration

    private var waiting: [(InboundMessage, CheckedContinuation<[StoredMessage], any Error>)] = []
    /// When each running transaction started, by batch number.
    private var running: [Int: ContinuousClock.Instant] = [:]
    private var nextBatch = 0
    /// A wake-up is scheduled for when the oldest running transaction reaches `overlapAfter`.
    private var recheckScheduled = false

    public init(store: MessageStore, maximumInFlight: Int = 2, maximumBatch: Int = 64,
                maximumBatchBytes: Int = 64 * 1024 * 1024, overlapAfter: Duration = .milliseconds(10)) {
        self.store = store
        self.maximumInFlight = max(1, maximumInFlight)
        self.maximumBatch = max(1, maximumBatch)
        self.maximumBatchBytes = maximumBatchBytes
        self.overlapAfter = overlapAfter
    }

    /// Stores and queues the message; returns after the COMMIT that holds it.
    public func accept(_ message: InboundMessage) async throws -> [StoredMessage] {
        try await withCheckedThrowingContinuation { continuation in
            waiting.append((message, continuation))
            startIfIdle()
        }
    }

    /// Starts a transaction for the waiting messages when none runs, or when every running one
    /// has run for `overlapAfter` and there is a free slot; otherwise looks again then.
    private func startIfIdle() {
        while !waiting.isEmpty, running.count < maximumInFlight {
            if let newest = running.values.max() {
                let due = newest + overlapAfter
                guard ContinuousClock.now >= due else {
                    scheduleRecheck(at: due)
                    return
                }
            }
            startBatch()
        }
    }

    private func scheduleRecheck(at due: ContinuousClock.Instant) {
        guard !recheckScheduled else { return }
        recheckScheduled = true
        Task {
            try? await Task.sleep(until: due, clock: .continuous)
            await self.recheck()
        }
    }

    private func recheck() {
        recheckScheduled = false
        startIfIdle()
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
        let number = nextBatch
        nextBatch += 1
        running[number] = ContinuousClock.now
        Task { await self.run(batch, number: number) }
    }

    private func run(_ batch: [(InboundMessage, CheckedContinuation<[StoredMessage], any Error>)], number: Int) async {
        let results = await store.acceptTogether(batch.map(\.0))
        for (entry, result) in zip(batch, results) { entry.1.resume(with: result) }
        running[number] = nil
        startIfIdle()
    }
}
