import ArgumentParser
import MailStore

struct AccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access",
        abstract: "Manage SMTP access rules (Postfix access(5) tables, in SQL).",
        discussion: """
            A rule matches a client network, an envelope sender or a recipient, and says OK or REJECT.
              client     10.0.0.0/8, 2001:db8::/32, 192.0.2.7 (the longest matching network wins)
              sender     user@domain, @domain (anyone there) or user@ (that user in any domain)
              recipient  the same forms
            REJECT refuses with 554 5.7.1 and the rule's text. OK on a client trusts it like mynetworks (it may
            relay); OK on a recipient allows relaying to it; OK on a sender only stops its REJECTs.
              petrel access add client 203.0.113.0/24 REJECT "spam source"
              petrel access add sender @spammer.example REJECT
              petrel access add client 192.0.2.10 OK
            """,
        subcommands: [Add.self, List.self, Remove.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a rule.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "client, sender or recipient.") var kind: AccessRuleKind
        @Argument(help: "A network (client) or an address pattern (sender, recipient).") var pattern: String
        @Argument(help: "OK or REJECT.") var action: AccessAction
        @Argument(help: "Text for the reply (REJECT).") var reply: String = ""

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                let rule = try await context.withDirectory {
                    try await $0.addAccessRule(kind: kind, pattern: pattern, action: action, reply: reply)
                }
                if output.json { return try Output.json(rule) }
                print("\(rule.kind.rawValue) \(rule.pattern) \(rule.action.rawValue)\(rule.reply.isEmpty ? "" : " \"\(rule.reply)\"")")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the rules.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Only rules of this kind.") var kind: AccessRuleKind?

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                let rules = try await context.withDirectory { try await $0.accessRules(kind: kind) }
                if output.json { return try Output.json(rules) }
                Output.table(["KIND", "PATTERN", "ACTION", "REPLY"],
                             rules.map { [$0.kind.rawValue, $0.pattern, $0.action.rawValue, $0.reply] })
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a rule.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "client, sender or recipient.") var kind: AccessRuleKind
        @Argument(help: "The rule's pattern, as listed.") var pattern: String

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                try await context.withDirectory { try await $0.removeAccessRule(kind: kind, pattern: pattern) }
                print("removed \(kind.rawValue) \(pattern)")
            }
        }
    }
}

extension AccessRuleKind: ExpressibleByArgument {}
extension AccessAction: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.uppercased()) }
}
