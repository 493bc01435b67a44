import ArgumentParser
import MailStore

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the configuration, the database connection and the schema (like `postfix check`).",
        discussion: "Exits 0 when all is well, 1 with the first problem otherwise."
    )

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await reportingErrors {
            let context = try await CommandContext.make(global)
            print("configuration: ok (\(context.configuration.source))")
            try await context.withDatabase(requireSchema: false) { database in
                print("database: ok (\(database.url))")
                let status = try await MigrationRunner(database: database).status()
                if let changed = status.modified.first {
                    throw CLIError("schema: migration \(changed.fileName) was changed after it was applied")
                }
                if !status.pending.isEmpty {
                    throw CLIError("schema: \(status.pending.count) migration(s) pending (\(status.pending.map(\.fileName).joined(separator: ", "))): run `petrel migrate`")
                }
                let note = status.unknown.isEmpty ? "" : " (the database also has newer migrations \(status.unknown.map(String.init).joined(separator: ", ")))"
                print("schema: current, version \(status.applied.last ?? 0)\(note)")
            }
        }
    }
}
