import ArgumentParser
import Foundation
import Logging
import MailStore
import NIOPosix
import ServerSupport

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a node.",
        discussion: """
            Connects to the database, checks that the schema is current (or applies migrations with --migrate),
            opens the listeners of the configuration (SMTP 25, submission 587, submissions 465, IMAP 143 and
            993, POP3 110 and 995 unless configured otherwise) and runs until SIGINT or SIGTERM, which drain it: no new
            connections, open mail transactions finish, every other session gets 421 (IMAP: BYE). SIGHUP
            reloads the TLS certificate.
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

/// A running node: the database pool and the protocol listeners, until SIGINT or SIGTERM,
/// which drain it (stop accepting, let sessions finish their transaction, then close).
struct Node {
    let context: CommandContext

    func run(migrate: Bool) async throws {
        let configuration = context.configuration
        let logger: Logger = {
            var logger = CommandContext.logger(level: configuration.logLevel)
            logger[metadataKey: "node"] = "\(configuration.hostname)"
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
            let tls = try NodeServices.tlsStore(configuration)
            let authenticator = configuration.authenticator(database: database, hasher: context.hasher, logger: logger)
            try? await authenticator.refreshSCRAMOffer()
            // One LISTEN connection for the node: IMAP IDLE sessions hear of every node's changes,
            // and SMTP of changes to the access rules it keeps in memory.
            let hub = ChangeEventHub(database: database)
            let listening = Task { await hub.run() }
            defer { listening.cancel() }
            let smtp = NodeServices.smtpService(configuration, database: database, tls: tls, authenticator: authenticator, hub: hub,
                                                logger: logger)
            let imap = NodeServices.imapService(configuration, database: database, tls: tls, authenticator: authenticator, hub: hub,
                                                logger: logger)
            let pop3 = NodeServices.pop3Service(configuration, database: database, tls: tls, authenticator: authenticator, logger: logger)
            let listeners = NodeServices.listeners(configuration, smtp: smtp, imap: imap, pop3: pop3, tls: tls, logger: logger)
            let group: ListenerGroup
            do {
                group = try await ListenerGroup.bind(listeners, tls: tls, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
            } catch {
                throw CLIError("cannot open the listeners: \(error)")
            }
            logger.notice("node started", metadata: ["database": "\(database.url)", "schema": "\(status.applied.last ?? 0)"])
            print("petrel \(PetrelVersion.string): node \(configuration.hostname) running against \(database.url)")
            for listener in listeners {
                let address = group.addresses[listener.spec.name].map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
                print("  \(listener.spec.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(address)  tls: \(listener.spec.tls.rawValue)")
            }
            print("Ctrl-C stops (drains: open transactions finish first).")
            fflush(nil)
            let reloader = Signals.onHangup {
                guard let tls else { return }
                do {
                    try tls.reload()
                    logger.notice("TLS certificate reloaded", metadata: ["certificate": "\(tls.certificatePath)"])
                } catch {
                    logger.error("TLS certificate not reloaded, the old one stays in use", metadata: ["error": "\(error)"])
                }
            }
            defer { reloader.cancel() }
            // Outbound delivery: this node's share of the shared queue.
            let worker = NodeServices.queueWorker(configuration, database: database, logger: logger)
            let delivering = Task { await worker?.run() }
            defer { delivering.cancel() }
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { await group.run() }
                let signo = await Signals.waitForTermination()
                delivering.cancel()
                logger.notice("node draining", metadata: ["signal": "\(signo)", "sessions": "\(group.openConnections)"])
                await group.drain(grace: .seconds(configuration.shutdownGraceSeconds))
                try await tasks.waitForAll()
            }
            logger.notice("node stopped")
        }
    }
}
