import Foundation
import MailCore
import MailStore
import NIOCore

/// How failed logins are slowed down and then refused, per client address and per account.
public struct LoginThrottleSettings: Sendable, Equatable {
    public var enabled: Bool
    /// Failures for one account (from anywhere) before it is blocked.
    public var accountLimit: Int
    /// Failures from one client address (any account) before it is blocked.
    public var clientLimit: Int
    /// Failures further apart than this start the count again (seconds).
    public var window: Double
    /// How long a block lasts (seconds).
    public var block: Double
    /// The answer to the second failure in a row waits this long, each further one twice as
    /// long, up to `maximumDelay` (seconds). The first failure is answered at once: a typo
    /// costs nothing.
    public var delay: Double
    public var maximumDelay: Double

    public init(enabled: Bool = true, accountLimit: Int = 10, clientLimit: Int = 30, window: Double = 900,
                block: Double = 900, delay: Double = 1, maximumDelay: Double = 8) {
        self.enabled = enabled
        self.accountLimit = accountLimit
        self.clientLimit = clientLimit
        self.window = window
        self.block = block
        self.delay = delay
        self.maximumDelay = maximumDelay
    }

    public static let `default` = LoginThrottleSettings()

    /// The wait before answering the `failures`-th failure in a row.
    public func delay(afterFailures failures: Int) -> Double {
        guard failures >= 2, delay > 0 else { return 0 }
        return min(delay * pow(2, Double(min(failures - 2, 30))), maximumDelay)
    }
}

/// Failed-login counting, stored in PostgreSQL (``LoginFailures``) so that every node sees
/// the same counters: a client cannot spread its guesses over the nodes behind the MX records.
public struct LoginThrottle: Sendable {
    public let store: LoginFailures
    public let settings: LoginThrottleSettings

    public init(store: LoginFailures, settings: LoginThrottleSettings) {
        self.store = store
        self.settings = settings
    }

    /// `account:user@example.com`: the address in its canonical form (so that the spellings of
    /// one address, `ALICE@Example.COM.` or with ideographic full stops, share one counter),
    /// else the login lower-cased and bounded.
    public static func accountKey(_ username: String) -> String {
        let canonical = (try? EmailAddress(username))?.description ?? username.lowercased()
        return "account:" + String(canonical.prefix(320))
    }

    /// `client:192.0.2.7`; an IPv6 client counts by its /64 (one host usually has the whole
    /// prefix); an IPv4 client seen on a dual-stack socket (`::ffff:192.0.2.7`) as itself.
    public static func clientKey(_ address: String) -> String {
        let lowered = address.lowercased()
        if lowered.hasPrefix("::ffff:"), lowered.contains(".") { return "client:" + String(lowered.dropFirst(7).prefix(15)) }
        if address.contains(":"), let network = try? IPNetwork("\(address)/64") {
            return "client:\(network)"
        }
        return "client:" + String(address.prefix(64))
    }

    func keys(_ username: String, _ context: LoginContext) -> [(key: String, limit: Int)] {
        var keys = [(Self.accountKey(username), settings.accountLimit)]
        if let client = context.clientAddress { keys.append((Self.clientKey(client), settings.clientLimit)) }
        return keys
    }

    /// Why this login is refused before its password is even checked; nil when it may go on.
    public func refusal(_ username: String, _ context: LoginContext) async throws -> String? {
        guard settings.enabled else { return nil }
        let blocked = try await store.blocked(keys(username, context).map(\.key))
        guard let first = blocked.first else { return nil }
        return "\(first.key) blocked after \(first.failures) failed logins"
    }

    /// Counts a failure and waits as the policy says before the caller answers it.
    public func failed(_ username: String, _ context: LoginContext) async {
        guard settings.enabled else { return }
        let counts = (try? await store.record(keys(username, context), window: settings.window, block: settings.block)) ?? [:]
        if Int.random(in: 0 ..< 100) == 0 { try? await store.prune(olderThan: 86_400) }
        let wait = settings.delay(afterFailures: counts.values.max() ?? 0)
        if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1_000_000_000)) }
    }

    /// A right password: clears the account's counter (not the client's: one good password
    /// does not excuse guessing at others), unless a block began meanwhile. Guesses sent in
    /// parallel all pass ``refusal(_:_:)`` before any failure is counted, so one that hits the
    /// password after the block began is refused too: then the reason, else nil. One statement.
    public func succeeded(_ username: String, address: String, _ context: LoginContext) async throws -> String? {
        guard settings.enabled else { return nil }
        let accountKeys = Array(Set([Self.accountKey(username), Self.accountKey(address)]))
        guard let blocked = try await store.clear(accountKeys, unlessBlocked: keys(username, context).map(\.key)) else { return nil }
        return "\(blocked.key) blocked after \(blocked.failures) failed logins"
    }
}
