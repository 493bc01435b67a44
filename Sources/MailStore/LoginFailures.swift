import Foundation
import PostgresNIO

/// One failed-login counter (`login_failures`, migration 0009).
public struct LoginFailureRecord: Sendable, Equatable {
    public var key: String
    public var failures: Int
    public var firstFailure: Date
    public var lastFailure: Date
    public var blockedUntil: Date?
}

/// Failed-login counters per client address and per account, in PostgreSQL so that every node
/// counts the same failures and honours the same blocks. The policy (keys, limits, delays)
/// is MailAuth's `LoginThrottle`; this is its storage.
public struct LoginFailures: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// The counters among `keys` that are blocked now.
    public func blocked(_ keys: [String]) async throws -> [LoginFailureRecord] {
        try await records("""
            SELECT key, failures, first_failure, last_failure, blocked_until FROM login_failures
            WHERE key = ANY(\(keys)) AND blocked_until > now()
            """)
    }

    /// Counts one failure against each key and returns the new counts. A counter whose last
    /// failure is older than `window` starts again at 1. A key whose count reaches its limit
    /// is blocked for `block` seconds.
    public func record(_ keys: [(key: String, limit: Int)], window: Double, block: Double) async throws -> [String: Int] {
        let names = keys.map(\.key)
        let rows = try await database.query("""
            INSERT INTO login_failures AS f (key, failures) SELECT k, 1 FROM unnest(\(names)::text[]) AS k
            ON CONFLICT (key) DO UPDATE SET
                failures = CASE WHEN f.last_failure < now() - make_interval(secs => \(window)) THEN 1 ELSE f.failures + 1 END,
                first_failure = CASE WHEN f.last_failure < now() - make_interval(secs => \(window)) THEN now() ELSE f.first_failure END,
                last_failure = now()
            RETURNING key, failures
            """)
        var counts: [String: Int] = [:]
        for try await (key, failures) in rows.decode((String, Int).self) { counts[key] = failures }
        let reached = keys.filter { (counts[$0.key] ?? 0) >= $0.limit }.map(\.key)
        if !reached.isEmpty {
            try await database.query("""
                UPDATE login_failures SET blocked_until = now() + make_interval(secs => \(block)) WHERE key = ANY(\(reached))
                """)
        }
        return counts
    }

    /// Forgets a counter (a successful login clears its account's). Returns whether there was one.
    @discardableResult
    public func clear(_ key: String) async throws -> Bool {
        let rows = try await database.query("DELETE FROM login_failures WHERE key = \(key) RETURNING key")
        for try await _ in rows { return true }
        return false
    }

    /// After a right password: removes the `clear` counters unless one of `checked` is blocked
    /// now, in one statement; returns that blocked counter (then nothing is removed), else nil.
    public func clear(_ clear: [String], unlessBlocked checked: [String]) async throws -> LoginFailureRecord? {
        try await records("""
            WITH blocked AS (
                SELECT key, failures, first_failure, last_failure, blocked_until FROM login_failures
                WHERE key = ANY(\(checked)) AND blocked_until > now()),
            cleared AS (
                DELETE FROM login_failures WHERE key = ANY(\(clear)) AND NOT EXISTS (SELECT 1 FROM blocked))
            SELECT * FROM blocked
            """).first
    }

    /// Every counter, or only those blocked now.
    public func list(blockedOnly: Bool) async throws -> [LoginFailureRecord] {
        try await records("""
            SELECT key, failures, first_failure, last_failure, blocked_until FROM login_failures
            WHERE NOT \(blockedOnly) OR blocked_until > now() ORDER BY last_failure DESC
            """)
    }

    /// Removes counters whose last failure is older than `age` seconds.
    public func prune(olderThan age: Double) async throws {
        try await database.query("DELETE FROM login_failures WHERE last_failure < now() - make_interval(secs => \(age))")
    }

    private func records(_ query: PostgresQuery) async throws -> [LoginFailureRecord] {
        let rows = try await database.query(query)
        var out: [LoginFailureRecord] = []
        for try await (key, failures, first, last, blocked) in rows.decode((String, Int, Date, Date, Date?).self) {
            out.append(LoginFailureRecord(key: key, failures: failures, firstFailure: first, lastFailure: last, blockedUntil: blocked))
        }
        return out
    }
}
