/// Per-destination limits of one node's queue worker, as Postfix's
/// `default_destination_concurrency_limit` and `default_destination_rate_delay`: at most
/// `concurrency` deliveries to one destination (a recipient domain) at a time, and with a
/// `rateDelay`, deliveries to one destination started at least that far apart (then one at a
/// time, as Postfix does). Waiters are served in arrival order. Cancellation while waiting is
/// not supported: the worker's deliveries always run to their end.
actor DestinationLimiter {
    nonisolated let concurrency: Int
    nonisolated let rateDelay: Duration

    private var active: [String: Int] = [:]
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]
    private var lastStart: [String: ContinuousClock.Instant] = [:]

    init(concurrency: Int, rateDelay: Duration = .zero) {
        self.rateDelay = rateDelay
        self.concurrency = rateDelay > .zero ? 1 : max(1, concurrency)
    }

    /// Waits for a slot for `destination`; pair with `release`.
    func acquire(_ destination: String) async {
        if active[destination, default: 0] >= concurrency || !(waiting[destination]?.isEmpty ?? true) {
            await withCheckedContinuation { waiting[destination, default: []].append($0) }
            // release() handed its slot over: active already counts this delivery.
        } else {
            active[destination, default: 0] += 1
        }
        if rateDelay > .zero {
            let clock = ContinuousClock()
            if let last = lastStart[destination] {
                let due = last.advanced(by: rateDelay)
                if due > clock.now { try? await clock.sleep(until: due) }
            }
            lastStart[destination] = clock.now
            if lastStart.count > 1000 { forgetIdle(before: clock.now.advanced(by: .zero - rateDelay)) }
        }
    }

    /// Drops the start times that no longer hold anyone back (bounded memory with many domains).
    private func forgetIdle(before limit: ContinuousClock.Instant) {
        lastStart = lastStart.filter { destination, start in start > limit || active[destination] != nil }
    }

    func release(_ destination: String) {
        if var queue = waiting[destination], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[destination] = queue.isEmpty ? nil : queue
            next.resume()   // the slot passes to the next waiter
            return
        }
        let remaining = active[destination, default: 1] - 1
        active[destination] = remaining > 0 ? remaining : nil
        if remaining <= 0 && rateDelay == .zero { lastStart[destination] = nil }
    }

    /// Deliveries to `destination` now running (for tests and logs).
    func running(_ destination: String) -> Int { active[destination, default: 0] }

    /// Runs `body` holding a slot for `destination`.
    func with<T: Sendable>(_ destination: String, _ body: @Sendable () async -> T) async -> T {
        await acquire(destination)
        let result = await body()
        release(destination)
        return result
    }
}
