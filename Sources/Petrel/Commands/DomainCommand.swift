import ArgumentParser
import MailStore

struct DomainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "domain",
        abstract: "Manage local domains and alias domains.",
        subcommands: [Add.self, List.self, Show.self, Remove.self, DomainAuthCommand.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a local domain, or an alias domain with --alias-of.",
            discussion: """
                petrel domain add baidu.com
                petrel domain add group.com --alias-of baidu.com    # x@group.com is x@baidu.com
                The target of an alias domain may be a domain of this server or a remote one; it may not be
                an alias domain itself.
                """
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The domain name (Unicode names are stored in their xn-- form).") var name: String
        @Option(name: .customLong("alias-of"), help: "Make this an alias domain of TARGET.") var aliasOf: String?

        func run() async throws {
            try await reportingErrors {
                let domain = try Parse.domain(name)
                let target = try aliasOf.map(Parse.domain)
                let context = try await CommandContext.make(global)
                let record = try await context.withDirectory { directory in
                    let record = try await directory.addDomain(domain, aliasOf: target)
                    if let target, (try? await directory.domain(target)) == nil {
                        print("note: \(target) is not a domain of this server: mail to @\(domain) is forwarded to @\(target)")
                    }
                    return record
                }
                if output.json { try Output.json(record) } else {
                    print(target.map { "added alias domain \(domain) -> \($0)" } ?? "added domain \(domain)")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List domains.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                let domains = try await context.withDirectory { try await $0.domains() }
                if output.json { return try Output.json(domains) }
                Output.table(["DOMAIN", "KIND", "ALIAS OF", "ACCOUNTS", "ALIASES", "ACTIVE"], domains.map {
                    [$0.name, $0.kind, $0.aliasOf ?? "-", String($0.accounts), String($0.aliases), $0.active ? "yes" : "no"]
                })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one domain.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The domain name.") var name: String

        func run() async throws {
            try await reportingErrors {
                let domain = try Parse.domain(name)
                let context = try await CommandContext.make(global)
                let record = try await context.withDirectory { try await $0.domain(domain) }
                if output.json { return try Output.json(record) }
                print("domain:        \(record.name)")
                if domain.unicode != domain.ascii { print("unicode:       \(domain.unicode)") }
                print("kind:          \(record.kind)\(record.aliasOf.map { " of \($0)" } ?? "")")
                print("active:        \(record.active ? "yes" : "no")")
                print("accounts:      \(record.accounts)")
                print("aliases:       \(record.aliases)")
                print("alias domains: \(record.aliasDomains.isEmpty ? "-" : record.aliasDomains.joined(separator: ", "))")
                print("created:       \(Output.date(record.createdAt))")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a domain.",
            discussion: "A domain that still has accounts, aliases or alias domains is refused unless --force is given; with --force they are removed with it, in one transaction."
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The domain name.") var name: String
        @Flag(name: .long, help: "Also remove its accounts, aliases and alias domains.") var force = false

        func run() async throws {
            try await reportingErrors {
                let domain = try Parse.domain(name)
                let context = try await CommandContext.make(global)
                let removal = try await context.withDirectory { try await $0.removeDomain(domain, force: force) }
                if output.json { return try Output.json(removal) }
                var extra: [String] = []
                if removal.accounts > 0 { extra.append("\(removal.accounts) account(s)") }
                if removal.aliases > 0 { extra.append("\(removal.aliases) alias(es)") }
                if !removal.aliasDomains.isEmpty { extra.append("alias domain(s) \(removal.aliasDomains.joined(separator: ", "))") }
                print("removed domain \(domain)" + (extra.isEmpty ? "" : " with \(extra.joined(separator: ", "))"))
            }
        }
    }
}
