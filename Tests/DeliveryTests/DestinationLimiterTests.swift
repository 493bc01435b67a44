@testable import Delivery
import Foundation
import Synchronization
import Testing

/// Per-destination limits: never more deliveries to one domain at once than the limit, other
/// domains not held up, waiters served in order, and a rate delay spacing the starts.
@Suite struct DestinationLimiterTests {
    /// Counts deliveries running at once, per destination, and the most seen.
    final class Gauge: Sendable {
        let state = Mutex<(running: [String: Int], peak: [String: Int], order: [Int])>(([:], [:], []))

        func enter(_ destination: String, _ number: Int) {
            state.withLock {
                $0.running[destination, default: 0] += 1
                $0.peak[destination] = max($0.peak[destination, default: 0], $0.running[destination]!)
                $0.order.append(number)
            }
        }

        func leave(_ destination: String) { state.withLock { $0.running[destination, default: 0] -= 1 } }
    }

    final class Starts: Sendable {
        let value = Mutex<[ContinuousClock.Instant]>([])
    }

    @Test func concurrencyPerDestinationIsCapped() async {
        let limiter = DestinationLimiter(concurrency: 3)
        let gauge = Gauge()
        await withTaskGroup(of: Void.self) { group in
            for n in 0..<40 {
                let destination = n % 4 == 0 ? "other.test" : "busy.test"
                group.addTask {
                    await limiter.with(destination) {
                        gauge.enter(destination, n)
                        try? await Task.sleep(for: .milliseconds(5))
                        gauge.leave(destination)
                    }
                }
            }
        }
        let peak = gauge.state.withLock { $0.peak }
        #expect(peak["busy.test"] == 3)    // 30 deliveries, three at a time
        #expect(peak["other.test"] == 3)   // its own three slots, not taken by busy.test
        #expect(await limiter.running("busy.test") == 0)
    }

    @Test func waitersAreServedInArrivalOrder() async throws {
        let limiter = DestinationLimiter(concurrency: 1)
        let gauge = Gauge()
        await limiter.acquire("d.test")
        let waiters = Task {
            await withTaskGroup(of: Void.self) { group in
                for n in 1...5 {
                    group.addTask { await limiter.with("d.test") { gauge.enter("d.test", n); gauge.leave("d.test") } }
                    try? await Task.sleep(for: .milliseconds(20))   // arrive one after another
                }
            }
        }
        try await Task.sleep(for: .milliseconds(150))
        #expect(gauge.state.withLock { $0.order }.isEmpty)   // all waiting for the held slot
        await limiter.release("d.test")
        await waiters.value
        #expect(gauge.state.withLock { $0.order } == [1, 2, 3, 4, 5])
    }

    @Test func rateDelaySpacesTheStarts() async {
        let limiter = DestinationLimiter(concurrency: 10, rateDelay: .milliseconds(100))
        #expect(limiter.concurrency == 1)   // as Postfix: a rate delay means one at a time
        let starts = Starts()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask { await limiter.with("slow.test") { starts.value.withLock { $0.append(.now) } } }
            }
        }
        let times = starts.value.withLock { $0 }.sorted()
        #expect(times.count == 4)
        for (earlier, later) in zip(times, times.dropFirst()) {
            #expect(earlier.duration(to: later) >= .milliseconds(100))   // at least the delay apart
        }
    }
}
