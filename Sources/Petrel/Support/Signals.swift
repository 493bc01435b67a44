#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Waits for SIGINT or SIGTERM and returns which one came.
enum Signals {
    private final class Waiter: @unchecked Sendable {
        var sources: [any DispatchSourceSignal] = []
        var resumed = false
        let queue = DispatchQueue(label: "petrel.signals")
    }

    static func waitForTermination() async -> Int32 {
        let waiter = Waiter()
        return await withCheckedContinuation { continuation in
            waiter.queue.sync {
                for signo in [SIGINT, SIGTERM] {
                    signal(signo, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: signo, queue: waiter.queue)
                    source.setEventHandler {
                        guard !waiter.resumed else { return }
                        waiter.resumed = true
                        waiter.sources.forEach { $0.cancel() }
                        continuation.resume(returning: signo)
                    }
                    source.resume()
                    waiter.sources.append(source)
                }
            }
        }
    }

    /// Calls `action` on every SIGHUP until the returned source is cancelled.
    static func onHangup(_ action: @escaping @Sendable () -> Void) -> any DispatchSourceSignal {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: DispatchQueue(label: "petrel.sighup"))
        source.setEventHandler(handler: action)
        source.resume()
        return source
    }
}
