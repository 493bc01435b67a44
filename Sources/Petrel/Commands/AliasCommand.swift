import ArgumentParser
import MailStore

struct AliasCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alias",
        abstract: "Manage aliases (Postfix virtual_alias_maps and /etc/aliases, in SQL).",
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an alias, or more targets to an existing one.",
            discussion: """
                ADDRESS is user@domain, or @domain for a catch-all. A target without '@' is that local part in the
                alias's own domain. List the alias's own address among the targets to keep a copy and forward.
                  petrel alias add 123@group.com maomao xixi
                  petrel alias add workgroup@baidu.com maomao xixi redhat
                  petrel alias add @baidu.com postmaster@baidu.com
                """
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "user@domain or @domain.") var address: String
        @Argument(help: "Where mail to it goes (commas also separate, as in Postfix tables).") var targets: [String]

        func run() async throws {
            try await reportingErrors {
                let source = try Parse.aliasSource(address)
                let list = targets.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
                    .filter { !$0.isEmpty }
                guard !list.isEmpty else { throw CLIError("give at least one target") }
                let context = try await CommandContext.make(global)
                let record = try await context.withDirectory { try await $0.addAlias(source, targets: list) }
                if output.json { return try Output.json(record) }
                print("\(record.address) -> \(record.targets.joined(separator: ", "))")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List aliases, optionally of one domain.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Only this domain.") var domain: String?

        func run() async throws {
            try await reportingErrors {
                let domain = try domain.map(Parse.domain)
                let context = try await CommandContext.make(global)
                let aliases = try await context.withDirectory { directory in
                    if let domain { _ = try await directory.domain(domain) }
                    return try await directory.aliases(domain: domain)
                }
                if output.json { return try Output.json(aliases) }
                Output.table(["ALIAS", "ACTIVE", "TARGETS"], aliases.map {
                    [$0.address, $0.active ? "yes" : "no", $0.targets.joined(separator: ", ")]
                })
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove an alias, or only some of its targets.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "user@domain or @domain.") var address: String
        @Argument(help: "Remove only these targets (the alias goes when none is left).") var targets: [String] = []

        func run() async throws {
            try await reportingErrors {
                let source = try Parse.aliasSource(address)
                let context = try await CommandContext.make(global)
                try await context.withDirectory { try await $0.removeAlias(source, targets: targets) }
                print(targets.isEmpty ? "removed alias \(source)" : "removed \(targets.joined(separator: ", ")) from \(source)")
            }
        }
    }
}
