import NIOConcurrencyHelpers
import NIOCore

/// The open connections of a node: counted per listener and per client address for the
/// limits, and reachable for the drain.
final class ConnectionRegistry: Sendable {
    struct Entry {
        var listener: String
        var client: String
        var channel: any Channel
        var gate: NIOLoopBound<TLSUpgradeGate>
    }

    private struct State {
        var nextID = 0
        var entries: [Int: Entry] = [:]
        var perListener: [String: Int] = [:]
        var perClient: [String: Int] = [:]
        var draining = false
    }

    private let state = NIOLockedValueBox(State())

    enum Admission { case admitted(Int), refused(String) }

    /// Counts a new connection in, unless a limit (or the drain) says no.
    func admit(_ spec: ListenerSpec, client: String, channel: any Channel, gate: NIOLoopBound<TLSUpgradeGate>) -> Admission {
        state.withLockedValue { state in
            if state.draining { return .refused("node is shutting down") }
            let key = spec.name + " " + client
            if state.perListener[spec.name, default: 0] >= spec.maximumConnections {
                return .refused("listener \(spec.name) has \(spec.maximumConnections) connections")
            }
            if state.perClient[key, default: 0] >= spec.maximumConnectionsPerClient {
                return .refused("client has \(spec.maximumConnectionsPerClient) connections")
            }
            state.nextID += 1
            state.entries[state.nextID] = Entry(listener: spec.name, client: key, channel: channel, gate: gate)
            state.perListener[spec.name, default: 0] += 1
            state.perClient[key, default: 0] += 1
            return .admitted(state.nextID)
        }
    }

    func release(_ id: Int) {
        state.withLockedValue { state in
            guard let entry = state.entries.removeValue(forKey: id) else { return }
            state.perListener[entry.listener, default: 1] -= 1
            state.perClient[entry.client, default: 1] -= 1
            if state.perClient[entry.client] == 0 { state.perClient[entry.client] = nil }
        }
    }

    var count: Int { state.withLockedValue { $0.entries.count } }

    /// Asks every session to finish: each gets a drain marker after the input it has.
    func requestDrain() {
        let entries = state.withLockedValue { state -> [Entry] in
            state.draining = true
            return Array(state.entries.values)
        }
        for entry in entries {
            let gate = entry.gate
            entry.channel.eventLoop.execute { gate.value.injectDrain() }
        }
    }

    /// Closes whatever is still open (after the drain's grace period).
    func closeAll() {
        let channels = state.withLockedValue { $0.entries.values.map(\.channel) }
        for channel in channels { channel.close(promise: nil) }
    }
}
