import Foundation
import Logging
import MailAuth
import MailStore

/// What a command needs once its options are read: the validated configuration and where the
/// database is. Built by ``make(_:)``, which also starts the embedded cluster when that is the
/// database in use.
struct CommandContext: Sendable {
    let configuration: PetrelConfiguration
    let url: DatabaseURL
    let logger: Logger

    static func logger(level: Logger.Level = .warning) -> Logger {
        var logger = Logger(label: "petrel") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }

    static func home(_ options: GlobalOptions) -> String {
        let raw = options.home ?? ProcessInfo.processInfo.environment["PETREL_HOME"] ?? ".petrel"
        let absolute = raw.hasPrefix("/") ? raw : FileManager.default.currentDirectoryPath + "/" + raw
        return (absolute as NSString).standardizingPath
    }

    static func loadConfiguration(_ options: GlobalOptions) async throws -> PetrelConfiguration {
        let path = options.config ?? ProcessInfo.processInfo.environment["PETREL_CONFIG"]
        return try await PetrelConfiguration.load(path: path)
    }

    static func make(_ options: GlobalOptions) async throws -> CommandContext {
        let configuration = try await loadConfiguration(options)
        let logger = Self.logger()
        if let text = options.databaseURL {
            return CommandContext(configuration: configuration, url: try DatabaseURL(parsing: text), logger: logger)
        }
        if let url = configuration.databaseURL {
            return CommandContext(configuration: configuration, url: url, logger: logger)
        }
        let home = Self.home(options)
        let embedded = try EmbeddedPostgres(home: home)
        guard embedded.isInitialised else {
            throw CLIError("no database configured: give --database-url, set PETREL_DATABASE_URL or database.url "
                + "in the configuration file, or run `petrel dev` to create the embedded one in \(home)")
        }
        try embedded.startIfNeeded()
        return CommandContext(configuration: configuration, url: embedded.url, logger: logger)
    }

    /// Opens the database for the length of `body`. With `requireSchema`, refuses to go on when
    /// migrations are pending (the message says to run `petrel migrate`).
    func withDatabase<Result: Sendable>(requireSchema: Bool = true,
                                        _ body: @Sendable (Database) async throws -> Result) async throws -> Result {
        try await Database.withDatabase(url, options: configuration.databaseOptions, logger: logger) { database in
            if requireSchema {
                let status = try await MigrationRunner(database: database).status()
                if !status.pending.isEmpty {
                    throw CLIError("the database schema is not current (\(status.pending.count) migration(s) pending): run `petrel migrate`")
                }
            }
            return try await body(database)
        }
    }

    func withDirectory<Result: Sendable>(_ body: @Sendable (Directory) async throws -> Result) async throws -> Result {
        try await withDatabase { database in try await body(Directory(database: database)) }
    }

    var hasher: PasswordHasher { PasswordHasher(parameters: configuration.argon2) }
}
