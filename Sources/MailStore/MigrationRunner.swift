import Logging
import PostgresNIO

/// Applies migrations in order, each in its own transaction, under a PostgreSQL advisory lock so
/// that nodes starting together take turns; applied versions are recorded in
/// `petrel_schema_migrations` with a checksum of the file, so an edited applied file is noticed.
public struct MigrationRunner: Sendable {
    /// `pg_advisory_lock` key: the ASCII of "petrelmg".
    static let lockKey: Int64 = 0x7065_7472_656c_6d67

    public let database: Database
    public let migrations: [Migration]

    public init(database: Database, migrations: [Migration] = Migration.embedded) {
        self.database = database
        self.migrations = migrations.sorted { $0.version < $1.version }
    }

    public struct Status: Sendable, Equatable {
        /// Versions recorded as applied.
        public var applied: [Int]
        /// Known migrations not yet applied.
        public var pending: [Migration]
        /// Applied versions this binary does not know (the schema is newer than this binary).
        public var unknown: [Int]
        /// Applied migrations whose file changed since.
        public var modified: [Migration]
        public var isCurrent: Bool { pending.isEmpty && modified.isEmpty }
    }

    public func status() async throws -> Status {
        do {
            return try await database.client.withConnection { connection in
                // Read-only: a database never migrated simply has everything pending.
                let rows = try await connection.query(
                    "SELECT to_regclass('petrel_schema_migrations') IS NOT NULL", logger: database.logger)
                var exists = false
                for try await value in rows.decode(Bool.self) { exists = value }
                guard exists else { return Status(applied: [], pending: migrations, unknown: [], modified: []) }
                return try await status(connection)
            }
        } catch { throw database.mapError(error) }
    }

    /// Applies what is pending and returns the migrations applied by this call (empty when the
    /// schema was current). On failure nothing of the failing migration remains and the error
    /// names the file and PostgreSQL's reason.
    @discardableResult
    public func migrate() async throws -> [Migration] {
        let logger = database.logger
        do {
            return try await database.client.withConnection { connection in
                _ = try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
                do {
                    let applied = try await applyPending(connection, logger: logger)
                    _ = try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                    return applied
                } catch {
                    _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
                    throw error
                }
            }
        } catch { throw database.mapError(error) }
    }

    private func applyPending(_ connection: PostgresConnection, logger: Logger) async throws -> [Migration] {
        try await Self.ensureTable(connection, logger: logger)
        let current = try await status(connection)
        if let changed = current.modified.first {
            throw StoreError(.migration, "migration \(changed.fileName) was changed after it was applied; "
                + "never edit an applied migration, add a new one")
        }
        var done: [Migration] = []
        for migration in current.pending {
            logger.info("applying migration", metadata: ["migration": "\(migration.fileName)"])
            do {
                _ = try await connection.query("BEGIN", logger: logger)
                for statement in SQLScript.statements(migration.sql) {
                    _ = try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("""
                    INSERT INTO petrel_schema_migrations (version, name, checksum)
                    VALUES (\(migration.version), \(migration.name), encode(sha256(convert_to(\(migration.sql), 'UTF8')), 'hex'))
                    """, logger: logger)
                _ = try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                let reason: String
                if let psql = error as? PSQLError, let message = psql.serverInfo?[.message] {
                    let line = psql.serverInfo?[.position].map { " (at character \($0))" } ?? ""
                    reason = message + line
                } else {
                    reason = "\(database.mapError(error))"
                }
                throw StoreError(.migration, "migration \(migration.fileName) failed and was rolled back: \(reason)")
            }
            done.append(migration)
        }
        return done
    }

    static func ensureTable(_ connection: PostgresConnection, logger: Logger) async throws {
        // Called with the advisory lock held, so concurrent nodes cannot race on the CREATE.
        _ = try await connection.query("""
            CREATE TABLE IF NOT EXISTS petrel_schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
    }

    private func status(_ connection: PostgresConnection) async throws -> Status {
        var applied: [Int: String] = [:]
        let rows = try await connection.query("SELECT version, checksum FROM petrel_schema_migrations ORDER BY version",
                                              logger: database.logger)
        for try await (version, checksum) in rows.decode((Int, String).self) { applied[version] = checksum }
        var pending: [Migration] = []
        var modified: [Migration] = []
        for migration in migrations {
            guard let checksum = applied[migration.version] else {
                pending.append(migration)
                continue
            }
            let fileRows = try await connection.query(
                "SELECT encode(sha256(convert_to(\(migration.sql), 'UTF8')), 'hex')", logger: database.logger)
            for try await expected in fileRows.decode(String.self) where expected != checksum {
                modified.append(migration)
            }
        }
        let known = Set(migrations.map(\.version))
        return Status(applied: applied.keys.sorted(), pending: pending,
                      unknown: applied.keys.filter { !known.contains($0) }.sorted(), modified: modified)
    }
}
