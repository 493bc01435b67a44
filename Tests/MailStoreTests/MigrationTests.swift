import Foundation
import MailStore
import PetrelTestSupport
import PostgresNIO
import Testing

@Suite struct MigrationTests {
    static func tables(_ database: Database) async throws -> Set<String> {
        let rows = try await database.client.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", logger: TestDatabase.logger)
        var names = Set<String>()
        for try await name in rows.decode(String.self) { names.insert(name) }
        return names
    }

    @Test func embeddedMigrationsMatchTheFiles() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../migrations").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files == Migration.embedded.map(\.fileName), "run `make migrations` (scripts/embed_migrations.py)")
        for migration in Migration.embedded {
            let text = try String(contentsOf: dir.appendingPathComponent(migration.fileName), encoding: .utf8)
            #expect(text == migration.sql, "\(migration.fileName) differs from its embedded copy: run `make migrations`")
        }
    }

    @Test func freshThenRerunIsANoop() async throws {
        try await TestDatabase.withEmpty { url in
            try await Database.withDatabase(url, logger: TestDatabase.logger) { database in
                let runner = MigrationRunner(database: database)
                #expect(try await runner.status().pending.count == Migration.embedded.count)
                let applied = try await runner.migrate()
                #expect(applied.map(\.version) == Migration.embedded.map(\.version))
                #expect(try await Self.tables(database).isSuperset(of: ["domains", "accounts", "aliases", "alias_targets", "petrel_schema_migrations"]))
                #expect(try await runner.migrate().isEmpty)
                let status = try await runner.status()
                #expect(status.isCurrent)
                #expect(status.applied == Migration.embedded.map(\.version))
            }
        }
    }

    @Test func concurrentMigratorsApplyEachMigrationOnce() async throws {
        try await TestDatabase.withEmpty { url in
            // Four "nodes", each with its own pool, migrating at the same moment.
            let results = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await Database.withDatabase(url, logger: TestDatabase.logger) { database in
                            try await MigrationRunner(database: database).migrate().map(\.version)
                        }
                    }
                }
                var all: [[Int]] = []
                for try await r in group { all.append(r) }
                return all
            }
            #expect(results.flatMap { $0 }.sorted() == Migration.embedded.map(\.version))
            try await Database.withDatabase(url, logger: TestDatabase.logger) { database in
                let rows = try await database.client.query("SELECT count(*) FROM petrel_schema_migrations", logger: TestDatabase.logger)
                for try await count in rows.decode(Int.self) { #expect(count == Migration.embedded.count) }
            }
        }
    }

    @Test func failedMigrationLeavesTheDatabaseAsItWas() async throws {
        try await TestDatabase.withEmpty { url in
            try await Database.withDatabase(url, logger: TestDatabase.logger) { database in
                let good = Migration(version: 1, name: "good", sql: "CREATE TABLE first_table (x int);")
                let bad = Migration(version: 2, name: "bad", sql: """
                    CREATE TABLE half_done (x int);
                    INSERT INTO half_done VALUES (1);
                    ALTER TABLE no_such_table ADD COLUMN y int;
                    """)
                let runner = MigrationRunner(database: database, migrations: [good, bad])
                do {
                    try await runner.migrate()
                    Issue.record("the bad migration was accepted")
                } catch let error as StoreError {
                    #expect(error.kind == .migration)
                    #expect(error.message.contains("0002_bad.sql"))
                    #expect(error.message.contains("no_such_table"))
                }
                let tables = try await Self.tables(database)
                #expect(tables.contains("first_table"))
                #expect(!tables.contains("half_done"))
                #expect(try await runner.status().applied == [1])
                #expect(try await runner.status().pending.map(\.version) == [2])
            }
        }
    }

    @Test func editedAppliedMigrationIsRefused() async throws {
        try await TestDatabase.withEmpty { url in
            try await Database.withDatabase(url, logger: TestDatabase.logger) { database in
                try await MigrationRunner(database: database, migrations: [Migration(version: 1, name: "one", sql: "CREATE TABLE t1 (x int);")]).migrate()
                let edited = MigrationRunner(database: database, migrations: [
                    Migration(version: 1, name: "one", sql: "CREATE TABLE t1 (x bigint);"),
                    Migration(version: 2, name: "two", sql: "CREATE TABLE t2 (x int);"),
                ])
                #expect(try await edited.status().modified.map(\.version) == [1])
                await #expect(throws: StoreError.self) { try await edited.migrate() }
                #expect(try await !Self.tables(database).contains("t2"))
            }
        }
    }
}
