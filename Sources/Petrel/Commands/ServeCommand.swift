import ArgumentParser
import Foundation
import Logging
import MailStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a node.",
        discussion: """
            Connects to the database, checks that the schema is current (or applies migrations with --migrate),
            and runs until SIGINT or SIGTERM. This version has no protocol listeners yet: SMTP, IMAP and POP3
            arrive in later releases, and the node says so when it starts.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Apply pending migrations before starting.") var migrate = false

    func run() async throws {
        try await reportingErrors {
            let context = try await CommandContext.make(global)
            try await Node(context: context).run(migrate: migrate)
        }
    }
}

/// A running node. Today it owns the database pool and nothing else; the protocol listeners
/// join its lifetime as they are built.
struct Node {
    let context: CommandContext

    func run(migrate: Bool) async throws {
        let logger: Logger = {
            var logger = CommandContext.logger(level: context.configuration.logLevel)
            logger[metadataKey: "node"] = "\(context.configuration.hostname)"
            return logger
        }()
        try await context.withDatabase(requireSchema: false) { database in
            let runner = MigrationRunner(database: database)
            if migrate {
                for m in try await runner.migrate() { logger.notice("applied migration", metadata: ["migration": "\(m.fileName)"]) }
            }
            let status = try await runner.status()
            guard status.isCurrent else {
                throw CLIError("the database schema is not current: run `petrel migrate` (or start with --migrate)")
            }
            if !status.unknown.isEmpty {
                logger.warning("the database schema is newer than this petrel; run the same version on every node",
                               metadata: ["unknown_migrations": "\(status.unknown)"])
            }
            logger.notice("node started", metadata: ["database": "\(database.url)", "schema": "\(status.applied.last ?? 0)"])
            print("petrel \(PetrelVersion.string): node running against \(database.url)")
            print("No protocol listeners in this version: SMTP, IMAP and POP3 are not built yet.")
            print("Manage domains, accounts and aliases with the petrel CLI. Ctrl-C stops.")
            fflush(nil)
            let signo = await Signals.waitForTermination()
            logger.notice("node stopping", metadata: ["signal": "\(signo)"])
        }
    }
}
