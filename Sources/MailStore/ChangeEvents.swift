import Logging
import PostgresNIO

/// A change to an account's mail, as the store's triggers announce it with
/// `NOTIFY petrel_changes, '<account> <mailbox> <kind> <modseq>'` when the transaction commits.
public struct ChangeEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case append, expunge, flags, mailbox
    }

    public var accountID: Int64
    public var mailboxID: Int64
    public var kind: Kind
    public var modseq: Int64

    public init(accountID: Int64, mailboxID: Int64, kind: Kind, modseq: Int64) {
        self.accountID = accountID
        self.mailboxID = mailboxID
        self.kind = kind
        self.modseq = modseq
    }

    /// Parses a notification payload; nil for anything malformed.
    public init?(payload: String) {
        let fields = payload.split(separator: " ")
        guard fields.count == 4, let account = Int64(fields[0]), let mailbox = Int64(fields[1]),
              let kind = Kind(rawValue: String(fields[2])), let modseq = Int64(fields[3]) else { return nil }
        self.init(accountID: account, mailboxID: mailbox, kind: kind, modseq: modseq)
    }
}

/// One LISTEN connection per process, fanned out in memory to every subscriber of an account
/// (IDLE sessions, selected mailboxes). Events from any node arrive here, because every node's
/// changes go through PostgreSQL. The connection is re-opened when it drops; subscribers are
/// told with a `mailbox` event for mailbox 0 that they may have missed changes and should
/// re-check. The same channel announces changes to the access rules (payload `access`), which
/// drop the node's copy of them (`accessRules`).
public actor ChangeEventHub {
    public static let channel = "petrel_changes"

    private let database: Database
    /// The node's copy of the access rules, trusted while this hub listens.
    public nonisolated let accessRules = AccessRuleCache()
    private var subscribers: [Int64: [Int: AsyncStream<ChangeEvent>.Continuation]] = [:]
    private var nextID = 0
    private var ready: [CheckedContinuation<Void, Never>] = []
    private var listening = false

    public init(database: Database) {
        self.database = database
    }

    /// Events for one account until the stream is dropped.
    public func subscribe(accountID: Int64) -> AsyncStream<ChangeEvent> {
        let (stream, continuation) = AsyncStream<ChangeEvent>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id = nextID
        nextID += 1
        subscribers[accountID, default: [:]][id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(accountID: accountID, id: id) }
        }
        return stream
    }

    private func unsubscribe(accountID: Int64, id: Int) {
        subscribers[accountID]?[id] = nil
        if subscribers[accountID]?.isEmpty == true { subscribers[accountID] = nil }
    }

    public var subscriberCount: Int { subscribers.values.reduce(0) { $0 + $1.count } }

    /// Waits until the LISTEN is in place (so that a change made after this returns is seen).
    public func waitUntilListening() async {
        if listening { return }
        await withCheckedContinuation { ready.append($0) }
    }

    private func setListening(_ value: Bool) {
        listening = value
        accessRules.setListening(value)
        if value {
            for waiter in ready { waiter.resume() }
            ready.removeAll()
        }
    }

    func dispatch(_ event: ChangeEvent) {
        guard let targets = subscribers[event.accountID] else { return }
        for continuation in targets.values { continuation.yield(event) }
    }

    private func dispatchResync() {
        for (account, targets) in subscribers {
            for continuation in targets.values {
                continuation.yield(ChangeEvent(accountID: account, mailboxID: 0, kind: .mailbox, modseq: 0))
            }
        }
    }

    /// Listens until cancelled, reconnecting with a growing delay (up to 5 s) after failures.
    public func run() async {
        var delay: Duration = .milliseconds(100)
        var first = true
        while !Task.isCancelled {
            do {
                let connection = try await database.connectDirect()
                defer { Task { try? await connection.close() } }
                try await connection.listen(on: Self.channel) { notifications in
                    self.setListening(true)
                    if !first { self.dispatchResync() }
                    first = false
                    delay = .milliseconds(100)
                    for try await notification in notifications {
                        if let event = ChangeEvent(payload: notification.payload) {
                            self.dispatch(event)
                        } else if notification.payload == "access" {
                            self.accessRules.invalidate()
                        }
                    }
                }
            } catch {
                database.logger.warning("change events: listening connection lost: \(error)")
            }
            setListening(false)
            if Task.isCancelled { break }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }
}
