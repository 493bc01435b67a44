import NIOConcurrencyHelpers

/// The node's copy of the access rules, so that MAIL and RCPT do not each cost a query (that
/// round trip was about an eighth of the SMTP benchmark's CPU, docs/benchmarks.md). It is
/// trusted only while the node listens for changes (`ChangeEventHub`): a change to the table
/// is announced by its trigger (migration 0012) and drops the copy, and so does losing or
/// regaining the LISTEN connection, when announcements may have been missed. While nobody
/// listens, `rules` answers nil and callers ask the database, as without a cache. A copy is
/// also never older than `maximumAge`, in case a LISTEN connection dies without the node
/// noticing (a network that drops packets instead of refusing them).
public final class AccessRuleCache: Sendable {
    private struct State {
        var listening = false
        /// Bumped by every change; a load that began before one is not kept.
        var generation = 0
        var rules: AccessRuleSet?
        var loadedAt = ContinuousClock.now
    }

    private let state = NIOLockedValueBox(State())
    public let maximumAge: Duration

    public init(maximumAge: Duration = .seconds(60)) {
        self.maximumAge = maximumAge
    }

    /// The rules, loaded from `directory` when the copy is missing or too old; nil while
    /// changes cannot be heard (or a rule cannot be read in memory).
    public func rules(from directory: Directory) async throws -> AccessRuleSet? {
        let now = ContinuousClock.now
        let (listening, generation, cached) = state.withLockedValue { state in
            if state.rules != nil && now - state.loadedAt > maximumAge { state.rules = nil }
            return (state.listening, state.generation, state.rules)
        }
        guard listening else { return nil }
        if let cached { return cached }
        guard let loaded = AccessRuleSet(try await directory.accessRules()) else { return nil }
        state.withLockedValue {
            if $0.listening && $0.generation == generation {
                $0.rules = loaded
                $0.loadedAt = now
            }
        }
        return loaded
    }

    /// The table changed (an announcement arrived).
    public func invalidate() {
        state.withLockedValue {
            $0.generation += 1
            $0.rules = nil
        }
    }

    /// Whether changes are heard now; either way the copy is dropped (while the LISTEN
    /// connection was down, announcements may have been missed).
    public func setListening(_ listening: Bool) {
        state.withLockedValue {
            $0.listening = listening
            $0.generation += 1
            $0.rules = nil
        }
    }

    /// Whether a copy is held now (for tests).
    public var isLoaded: Bool { state.withLockedValue { $0.rules != nil } }
}
