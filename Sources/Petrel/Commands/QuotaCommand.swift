import ArgumentParser
import MailStore

struct QuotaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota",
        abstract: "Show and set account quotas.",
        subcommands: [Set.self, Show.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an account's limits.",
            discussion: "petrel quota set maomao@baidu.com --storage 2G --messages 50000   (0 removes a limit)"
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's address.") var address: String
        @Option(name: .long, help: "Storage limit (e.g. 500M, 2G; 0 = none).") var storage: String?
        @Option(name: .long, help: "Message count limit (0 = none).") var messages: Int64?

        func run() async throws {
            try await reportingErrors {
                let address = try Parse.address(self.address)
                guard storage != nil || messages != nil else { throw CLIError("give --storage, --messages or both") }
                let bytes = try storage.map(Parse.size)
                if let messages, messages < 0 { throw CLIError("--messages cannot be negative") }
                let context = try await CommandContext.make(global)
                try await context.withDirectory { try await $0.setQuota(address, bytes: bytes, messages: messages) }
                print("quota set for \(address)")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show usage and limits of one account, or of all accounts of a domain.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "An address, or a domain.") var target: String

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                let accounts: [AccountRecord]
                if target.contains("@") {
                    let address = try Parse.address(target)
                    accounts = [try await context.withDirectory { try await $0.account(address) }]
                } else {
                    let domain = try Parse.domain(target)
                    accounts = try await context.withDirectory { directory in
                        _ = try await directory.domain(domain)
                        return try await directory.accounts(domain: domain)
                    }
                }
                if output.json {
                    struct Row: Encodable { var address: String; var usedBytes, quotaBytes, usedMessages, quotaMessages: Int64 }
                    return try Output.json(accounts.map { Row(address: $0.address, usedBytes: $0.usedBytes, quotaBytes: $0.quotaBytes,
                                                             usedMessages: $0.usedMessages, quotaMessages: $0.quotaMessages) })
                }
                Output.table(["ADDRESS", "STORAGE", "LIMIT", "MESSAGES", "LIMIT"], accounts.map {
                    [$0.address, Output.bytes($0.usedBytes), $0.quotaBytes == 0 ? "unlimited" : Output.bytes($0.quotaBytes),
                     String($0.usedMessages), $0.quotaMessages == 0 ? "unlimited" : String($0.quotaMessages)]
                })
            }
        }
    }
}
