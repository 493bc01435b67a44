import ArgumentParser
import Foundation
import MailCore
import MailStore

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run a self-contained local node: its own PostgreSQL under PETREL_HOME, a demo domain and account.",
        discussion: """
            First run: initialises a PostgreSQL cluster in PETREL_HOME (default ./.petrel; Unix socket only),
            migrates, creates the domain example.test and the account demo@example.test with the password from
            PETREL_DEMO_PASSWORD, or a generated one kept in PETREL_HOME/demo-password. Later runs reuse the data.
            Ctrl-C stops the node and its PostgreSQL.
            """
    )

    @OptionGroup var global: GlobalOptions

    static let demoDomain = "example.test"
    static let demoAccount = "demo@example.test"

    func run() async throws {
        try await reportingErrors {
            let home = CommandContext.home(global)
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let embedded = try EmbeddedPostgres(home: home)
            if try embedded.initialiseIfNeeded() { print("initialised PostgreSQL in \(embedded.dataDirectory)") }
            try embedded.startIfNeeded()
            defer {
                do {
                    try embedded.stop()
                    print("PostgreSQL stopped")
                } catch {
                    FileHandle.standardError.write(Data("petrel: error: \(error)\n".utf8))
                }
            }
            var configuration = try await CommandContext.loadConfiguration(global)
            configuration.databaseURL = nil
            let context = CommandContext(configuration: configuration, url: embedded.url, logger: CommandContext.logger())
            let password = try demoPassword(home: home)
            try await context.withDatabase(requireSchema: false) { database in
                for m in try await MigrationRunner(database: database).migrate() { print("applied \(m.fileName)") }
                let directory = Directory(database: database)
                let domain = try DomainName(Self.demoDomain)
                if (try? await directory.domain(domain)) == nil {
                    try await directory.addDomain(domain)
                    print("added domain \(domain)")
                }
                let address = try EmailAddress(Self.demoAccount)
                if let stored = try await directory.credentials(address) {
                    // Keep the printed password true: PETREL_DEMO_PASSWORD may have changed since the last run.
                    if try await !context.hasher.check(password.value, against: stored.passwordHash).matched {
                        try await directory.setPasswordHash(address, try await context.hasher.hash(password.value))
                        print("updated the password of \(address)")
                    }
                } else {
                    try await directory.addAccount(address, passwordHash: try await context.hasher.hash(password.value), displayName: "Demo")
                    print("added account \(address)")
                }
            }
            print("""

                PETREL_HOME: \(home)
                database:    \(embedded.url)
                demo login:  \(Self.demoAccount)
                password:    \(password.value)\(password.source)

                """)
            try await Node(context: context).run(migrate: false)
        }
    }

    /// PETREL_DEMO_PASSWORD, else the one generated on the first run (kept 0600 in PETREL_HOME).
    func demoPassword(home: String) throws -> (value: String, source: String) {
        if let given = ProcessInfo.processInfo.environment["PETREL_DEMO_PASSWORD"], !given.isEmpty {
            return (given, "  (from PETREL_DEMO_PASSWORD)")
        }
        let file = home + "/demo-password"
        if let kept = try? String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !kept.isEmpty {
            return (kept, "  (kept in \(file))")
        }
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        let value = String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
        _ = FileManager.default.createFile(atPath: file, contents: Data((value + "\n").utf8), attributes: [.posixPermissions: 0o600])
        return (value, "  (generated, kept in \(file))")
    }
}
