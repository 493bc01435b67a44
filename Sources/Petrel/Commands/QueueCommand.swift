import ArgumentParser
import Foundation
import MailStore

struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Inspect and manage the outbound queue (like Postfix's postqueue and postsuper).",
        discussion: """
            The queue is shared by every node: these commands act on the database, and every node's workers
            see the change at their next round.
              petrel queue list                 queued messages: id, age, size, sender, recipients, last error
              petrel queue show ID              envelope, then the message (headers and body)
              petrel queue flush [ID]           try now (one message, or every queued one)
              petrel queue delete ID | --all    remove without delivering or bouncing
              petrel queue hold ID              keep the workers off it until `release`
              petrel queue release ID
            """,
        subcommands: [List.self, Show.self, Flush.self, Delete.self, Hold.self, Release.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the queued messages (postqueue -p).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                let entries = try await context.withDatabase { try await OutboundQueue(database: $0).entries() }
                if output.json { return try Output.json(entries) }
                if entries.isEmpty { return print("Mail queue is empty") }
                let now = Date()
                for entry in entries {
                    let age = QueueCommand.age(now.timeIntervalSince(entry.createdAt))
                    print("\(entry.id)  \(age)  \(entry.size)  <\(entry.sender)>")
                    for recipient in entry.recipients {
                        var line = "    \(recipient.address)"
                        if recipient.status == "hold" { line += "  (on hold)" }
                        if recipient.attempts > 0 { line += "  (\(recipient.attempts) attempts)" }
                        print(line)
                        if let error = recipient.lastError { print("        \(error)") }
                    }
                }
                print("-- \(entries.count) message(s), \(entries.reduce(0) { $0 + $1.recipients.count }) recipient(s)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a queued message's envelope and content (postcat -q).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue id.") var id: String

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                let (entries, raw) = try await context.withDatabase { database in
                    let queue = OutboundQueue(database: database)
                    return (try await queue.entries(id: id), try await queue.raw(messageID: id))
                }
                guard let entry = entries.first else { throw CLIError("no queued message \(id)") }
                print("*** ENVELOPE RECORDS \(entry.id) ***")
                print("sender: \(entry.sender)")
                print("arrival: \(entry.createdAt)")
                print("size: \(entry.size)")
                for recipient in entry.recipients { print("recipient: \(recipient.address) (\(recipient.status))") }
                print("*** MESSAGE CONTENTS \(entry.id) ***")
                FileHandle.standardOutput.write(Data(raw))
                print("*** END OF MESSAGE ***")
            }
        }
    }

    struct Flush: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make queued mail due now (postqueue -f, -i ID).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "One queue id; all queued mail when left out.") var id: String?

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                let n = try await context.withDatabase { try await OutboundQueue(database: $0).flush(id: id) }
                if let id, n == 0 { throw CLIError("no queued recipient of \(id) (unknown id, or on hold)") }
                print("\(n) recipient(s) due now")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove queued mail without delivery or bounce (postsuper -d).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue id.") var id: String?
        @Flag(help: "Every queued message.") var all = false

        func validate() throws {
            guard (id != nil) != all else { throw ValidationError("give a queue id or --all") }
        }

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                let n = try await context.withDatabase { try await OutboundQueue(database: $0).delete(id: id) }
                if let id, n == 0 { throw CLIError("no queued message \(id)") }
                print("\(n) message(s) deleted")
            }
        }
    }

    struct Hold: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Put a message on hold (postsuper -h).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue id.") var id: String

        func run() async throws {
            try await reportingErrors { try await QueueCommand.setHold(global, id, true) }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Release a held message, due now (postsuper -H).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The queue id.") var id: String

        func run() async throws {
            try await reportingErrors { try await QueueCommand.setHold(global, id, false) }
        }
    }

    static func setHold(_ global: GlobalOptions, _ id: String, _ hold: Bool) async throws {
        let context = try await CommandContext.make(global)
        let n = try await context.withDatabase { try await OutboundQueue(database: $0).hold(id: id, hold) }
        if n == 0 { throw CLIError("no \(hold ? "queued" : "held") recipient of \(id)") }
        print("\(n) recipient(s) \(hold ? "on hold" : "released")")
    }

    /// "3m", "2h", "4d": how long a message has waited.
    static func age(_ seconds: TimeInterval) -> String {
        let s = Int(max(0, seconds))
        if s < 3600 { return "\(s / 60)m" }
        if s < 86400 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }
}
