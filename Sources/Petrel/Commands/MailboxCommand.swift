import ArgumentParser
import MailStore

struct MailboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailbox",
        abstract: "Look at an account's mailboxes.",
        subcommands: [List.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List an account's mailboxes with their special use, UIDVALIDITY and UIDNEXT.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The account's address.") var address: String

        func run() async throws {
            try await reportingErrors {
                let address = try Parse.address(self.address)
                let context = try await CommandContext.make(global)
                let mailboxes = try await context.withDatabase { database in
                    let account = try await Directory(database: database).account(address)
                    return try await MailboxStore(database: database).list(accountID: account.id)
                }
                if output.json { return try Output.json(mailboxes) }
                Output.table(["MAILBOX", "SPECIAL-USE", "SELECTABLE", "SUBSCRIBED", "UIDVALIDITY", "UIDNEXT"], mailboxes.map {
                    [$0.name, $0.specialUse?.rawValue ?? "-", $0.selectable ? "yes" : "no", $0.subscribed ? "yes" : "no",
                     String($0.uidValidity), String($0.uidNext)]
                })
            }
        }
    }
}
