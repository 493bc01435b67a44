import Foundation
import Logging
import MailStore
import PostgresNIO

/// A fresh PostgreSQL database per test, on the throwaway server `make test` starts
/// (`scripts/with-test-postgres.sh` exports its URL as `PETREL_TEST_DATABASE_URL`).
/// Without that server the tests fail with a message saying how to run them: they never skip.
public enum TestDatabase {
    public struct NotConfigured: Error, CustomStringConvertible {
        public var description: String {
            "PETREL_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a throwaway PostgreSQL"
        }
    }

    public static var logger: Logger {
        var logger = Logger(label: "petrel-tests")
        logger.logLevel = .error
        return logger
    }

    public static func adminURL() throws -> DatabaseURL {
        guard let text = ProcessInfo.processInfo.environment["PETREL_TEST_DATABASE_URL"] else { throw NotConfigured() }
        return try DatabaseURL(parsing: text)
    }

    /// Creates an empty database, runs `body` with its URL, and drops it afterwards.
    public static func withEmpty<Result: Sendable>(_ body: @Sendable (DatabaseURL) async throws -> Result) async throws -> Result {
        let admin = try adminURL()
        let name = "petrel_test_" + String(UInt64.random(in: 0 ... .max), radix: 36)
        // The name is ours (letters, digits, underscore), not input: identifiers cannot be bound.
        try await Database.withDatabase(admin, logger: logger) { database in
            try await database.client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: logger)
        }
        var url = admin
        url.database = name
        do {
            let result = try await body(url)
            try await drop(name, admin: admin)
            return result
        } catch {
            try? await drop(name, admin: admin)
            throw error
        }
    }

    /// A migrated database, opened.
    public static func withMigrated<Result: Sendable>(_ body: @Sendable (Database) async throws -> Result) async throws -> Result {
        try await withEmpty { url in
            try await Database.withDatabase(url, logger: logger) { database in
                try await MigrationRunner(database: database).migrate()
                return try await body(database)
            }
        }
    }

    static func drop(_ name: String, admin: DatabaseURL) async throws {
        try await Database.withDatabase(admin, logger: logger) { database in
            try await database.client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)"), logger: logger)
        }
    }
}
