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
    private enum Copy {
        case none
        /// Being loaded, for the generation it was asked in; every caller waits for this one.
        case loading(Task<AccessRuleSet?, any Error>, generation: Int)
        case loaded(AccessRuleSet, at: ContinuousClock.Instant)
        /// A rule cannot be read in memory: ask the database until the table changes.
        case unusable
    }

    private struct State {
        var listening = false
        /// Bumped by every change; a load that began before one is not kept.
        var generation = 0
        var copy = Copy.none
    }

    private let state = NIOLockedValueBox(State())
    public let maximumAge: Duration

    public init(maximumAge: Duration = .seconds(60)) {
        self.maximumAge = maximumAge
    }

    /// The rules, loaded from `directory` when the copy is missing or too old (one load at a
    /// time: callers meanwhile wait for it); nil while changes cannot be heard, or when a rule
    /// cannot be read in memory.
    public func rules(from directory: Directory) async throws -> AccessRuleSet? {
        enum Next {
            case answer(AccessRuleSet?)
            case wait(Task<AccessRuleSet?, any Error>, generation: Int)
        }
        let now = ContinuousClock.now
        let maximumAge = self.maximumAge
        let next: Next = state.withLockedValue { state in
            guard state.listening else { return .answer(nil) }
            switch state.copy {
            case .loaded(let rules, let at) where now - at <= maximumAge:
                return .answer(rules)
            case .unusable:
                return .answer(nil)
            case .loading(let task, let generation) where generation == state.generation:
                return .wait(task, generation: generation)
            default:
                let task = Task { AccessRuleSet(try await directory.accessRules()) }
                state.copy = .loading(task, generation: state.generation)
                return .wait(task, generation: state.generation)
            }
        }
        guard case .wait(let load, let generation) = next else {
            if case .answer(let rules) = next { return rules }
            return nil
        }
        let loaded: AccessRuleSet?
        do {
            loaded = try await load.value
        } catch {
            // Failed (the database is down, say): the next look-up tries again.
            state.withLockedValue {
                if case .loading(_, let g) = $0.copy, g == generation { $0.copy = .none }
            }
            throw error
        }
        state.withLockedValue {
            // Kept only if nothing changed meanwhile (the copy is still this load's).
            guard $0.listening, $0.generation == generation, case .loading = $0.copy else { return }
            $0.copy = loaded.map { .loaded($0, at: now) } ?? .unusable
        }
        return loaded
    }

    /// The table changed (an announcement arrived).
    public func invalidate() {
        state.withLockedValue {
            $0.generation += 1
            $0.copy = .none
        }
    }

    /// Whether changes are heard now; either way the copy is dropped (while the LISTEN
    /// connection was down, announcements may have been missed).
    public func setListening(_ listening: Bool) {
        state.withLockedValue {
            $0.listening = listening
            $0.generation += 1
            $0.copy = .none
        }
    }

    /// Whether a copy is held now (for tests).
    public var isLoaded: Bool {
        state.withLockedValue { if case .loaded = $0.copy { return true } else { return false } }
    }
}
