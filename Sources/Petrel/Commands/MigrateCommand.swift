import ArgumentParser
import MailStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending schema migrations.",
        discussion: """
            Each migration runs in its own transaction under an advisory lock, so several nodes may run this at
            once. Re-running is a no-op. A failed migration is rolled back and named with PostgreSQL's reason.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Flag(name: .long, help: "Only show what is applied and what is pending.")
    var status = false

    func run() async throws {
        try await reportingErrors {
            let context = try await CommandContext.make(global)
            try await context.withDatabase(requireSchema: false) { database in
                let runner = MigrationRunner(database: database)
                if status {
                    let s = try await runner.status()
                    print("applied: \(s.applied.map(String.init).joined(separator: ", "))")
                    print("pending: \(s.pending.map(\.fileName).joined(separator: ", "))")
                    if !s.unknown.isEmpty { print("newer than this petrel: \(s.unknown.map(String.init).joined(separator: ", "))") }
                    return
                }
                let applied = try await runner.migrate()
                if applied.isEmpty {
                    print("schema is current")
                } else {
                    for m in applied { print("applied \(m.fileName)") }
                }
            }
        }
    }
}
