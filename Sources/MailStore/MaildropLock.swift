import Logging
import PostgresNIO

/// The POP3 maildrop lock (RFC 1939 §8: one session per maildrop; RFC 2449 `[IN-USE]`): a
/// PostgreSQL session advisory lock on a connection of its own, so every node sees it, and a
/// node that dies takes its connection — and the lock — with it. Released by `release()`.
public final class MaildropLock: Sendable {
    /// The advisory-lock key space of POP3 maildrops ("POP3" in the high bits, the account id
    /// in the low 32): other uses of advisory locks take other keys.
    static func key(_ accountID: Int64) -> Int64 { (0x504F_5033 << 32) | (accountID & 0xFFFF_FFFF) }

    private let connection: PostgresConnection
    public let accountID: Int64

    private init(connection: PostgresConnection, accountID: Int64) {
        self.connection = connection
        self.accountID = accountID
    }

    /// The lock, or nil when another session (on any node) holds it.
    public static func acquire(accountID: Int64, database: Database) async throws -> MaildropLock? {
        let connection = try await database.connectDirect()
        do {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(key(accountID)))", logger: database.logger)
            var locked = false
            for try await value in rows.decode(Bool.self) { locked = value }
            guard locked else {
                try? await connection.close()
                return nil
            }
            return MaildropLock(connection: connection, accountID: accountID)
        } catch {
            try? await connection.close()
            throw database.mapError(error)
        }
    }

    /// Closing the connection ends the PostgreSQL session and with it the lock.
    public func release() async {
        try? await connection.close()
    }
}
