import ArgumentParser
import MailStore

struct QuotaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quota",
        abstract: "Show and set account and domain quotas.",
        subcommands: [Set.self, Show.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set an account's or a whole domain's limits.",
            discussion: """
                petrel quota set maomao@baidu.com --storage 2G --messages 50000   (0 removes a limit)
                petrel quota set baidu.com --storage 500G      (all accounts of the domain together)
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "An account's address, or a domain.") var address: String
        @Option(name: .long, help: "Storage limit (e.g. 500M, 2G; 0 = none).") var storage: String?
        @Option(name: .long, help: "Message count limit (0 = none).") var messages: Int64?

        func run() async throws {
            try await reportingErrors {
                guard storage != nil || messages != nil else { throw CLIError("give --storage, --messages or both") }
                let bytes = try storage.map(Parse.size)
                if let messages, messages < 0 { throw CLIError("--messages cannot be negative") }
                let context = try await CommandContext.make(global)
                if self.address.contains("@") {
                    let address = try Parse.address(self.address)
                    try await context.withDirectory { try await $0.setQuota(address, bytes: bytes, messages: messages) }
                    print("quota set for \(address)")
                } else {
                    let domain = try Parse.domain(self.address)
                    try await context.withDirectory { try await $0.setDomainQuota(domain, bytes: bytes, messages: messages) }
                    print("quota set for domain \(domain)")
                }
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
                var domainTotal: (name: String, usage: DomainUsage)?
                if target.contains("@") {
                    let address = try Parse.address(target)
                    accounts = [try await context.withDirectory { try await $0.account(address) }]
                } else {
                    let domain = try Parse.domain(target)
                    (accounts, domainTotal) = try await context.withDirectory { directory in
                        let usage = try await directory.domainUsage(domain)
                        return (try await directory.accounts(domain: domain), ("(domain \(domain))", usage))
                    }
                }
                if output.json {
                    struct Row: Encodable { var address: String; var usedBytes, quotaBytes, usedMessages, quotaMessages: Int64 }
                    var rows = accounts.map { Row(address: $0.address, usedBytes: $0.usedBytes, quotaBytes: $0.quotaBytes,
                                                  usedMessages: $0.usedMessages, quotaMessages: $0.quotaMessages) }
                    if let total = domainTotal {
                        rows.append(Row(address: total.name, usedBytes: total.usage.usedBytes, quotaBytes: total.usage.quotaBytes,
                                        usedMessages: total.usage.usedMessages, quotaMessages: total.usage.quotaMessages))
                    }
                    return try Output.json(rows)
                }
                var table = accounts.map { ($0.address, $0.usedBytes, $0.quotaBytes, $0.usedMessages, $0.quotaMessages) }
                if let total = domainTotal {
                    table.append((total.name, total.usage.usedBytes, total.usage.quotaBytes, total.usage.usedMessages, total.usage.quotaMessages))
                }
                Output.table(["ADDRESS", "STORAGE", "LIMIT", "MESSAGES", "LIMIT"], table.map {
                    [$0.0, Output.bytes($0.1), $0.2 == 0 ? "unlimited" : Output.bytes($0.2),
                     String($0.3), $0.4 == 0 ? "unlimited" : String($0.4)]
                })
            }
        }
    }
}
