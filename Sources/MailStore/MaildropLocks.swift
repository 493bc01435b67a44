import Logging
import PostgresNIO

/// POP3 maildrop locks (RFC 1939 §8: one session per maildrop; RFC 2449 `[IN-USE]`) for one
/// node: PostgreSQL session advisory locks, all held on ONE connection of the node's own (not
/// one per POP3 session: the database's connection limit stays for mail). Other nodes see them
/// because they are PostgreSQL locks; a node that dies takes its connection, and the locks,
/// with it. If the lock connection drops while sessions hold locks, those locks are gone: the
/// handles say so (`isValid`) and the sessions delete nothing at QUIT.
public actor MaildropLocks {
    /// The advisory-lock key space of POP3 maildrops ("POP3" in the high bits, the account id
    /// in the low 32): other uses of advisory locks take other keys.
    static func key(_ accountID: Int64) -> Int64 { (0x504F_5033 << 32) | (accountID & 0xFFFF_FFFF) }

    private let database: Database
    private var connection: PostgresConnection?
    /// Bumped whenever the lock connection is replaced: locks of older generations are gone.
    private var generation = 0
    /// Accounts whose maildrop a session of this node holds, with the generation.
    private var held: [Int64: Int] = [:]

    public init(database: Database) {
        self.database = database
    }

    deinit {
        // PostgresNIO wants every connection closed before it goes; the closure keeps this one
        // until it is. Closing ends the session, and every lock it held.
        if let connection {
            connection.close().whenComplete { _ in _ = connection }
        }
    }

    /// The lock, or nil when another session — of this node or any other — holds it.
    public func acquire(accountID: Int64) async throws -> MaildropLock? {
        let connection = try await liveConnection()
        if held[accountID] == generation { return nil }
        // Claimed before the query: PostgreSQL's session locks are re-entrant, so two sessions
        // of this node asking at once must be told apart here (the actor may interleave them).
        let claim = generation
        held[accountID] = claim
        do {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.key(accountID)))", logger: database.logger)
            var locked = false
            for try await value in rows.decode(Bool.self) { locked = value }
            guard locked else {
                if held[accountID] == claim { held[accountID] = nil }
                return nil
            }
        } catch {
            if held[accountID] == claim { held[accountID] = nil }
            throw database.mapError(error)
        }
        return MaildropLock(locks: self, accountID: accountID, generation: claim)
    }

    func release(accountID: Int64, generation: Int) async {
        guard held[accountID] == generation, generation == self.generation else { return }
        held[accountID] = nil
        guard let connection, !connection.isClosed else { return }
        _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.key(accountID)))", logger: database.logger)
    }

    func isValid(accountID: Int64, generation: Int) -> Bool {
        guard generation == self.generation, held[accountID] == generation, let connection else { return false }
        return !connection.isClosed
    }

    /// The lock connection, opened again (a new generation, no locks) when it was lost.
    private func liveConnection() async throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        if let lost = connection {
            database.logger.warning("POP3 lock connection lost: sessions holding maildrop locks will delete nothing")
            lost.close().whenComplete { _ in _ = lost }
        }
        connection = nil
        held = [:]
        generation += 1
        let fresh = try await database.connectDirect()
        connection = fresh
        return fresh
    }
}

/// One session's hold on a maildrop.
public struct MaildropLock: Sendable {
    let locks: MaildropLocks
    public let accountID: Int64
    let generation: Int

    /// Whether the lock is still held (false once released, or when the lock connection
    /// dropped and PostgreSQL let go of it).
    public func isValid() async -> Bool {
        await locks.isValid(accountID: accountID, generation: generation)
    }

    public func release() async {
        await locks.release(accountID: accountID, generation: generation)
    }
}
