import ArgumentParser

@main
struct PetrelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "petrel",
        abstract: "Petrel: a mail platform whose every piece of state lives in PostgreSQL.",
        discussion: """
            The database is found, in order, from --database-url, PETREL_DATABASE_URL, database.url in the
            configuration file (--config or PETREL_CONFIG), or the embedded cluster under PETREL_HOME
            (default ./.petrel) that `petrel dev` creates.
            """,
        version: PetrelVersion.string,
        subcommands: [
            DevCommand.self, ServeCommand.self, MigrateCommand.self, CheckCommand.self,
            DomainCommand.self, UserCommand.self, AliasCommand.self, QuotaCommand.self,
            MailboxCommand.self, ResolveCommand.self, AuthCommand.self, AccessCommand.self, QueueCommand.self, DKIMCommand.self,
        ]
    )
}

enum PetrelVersion {
    static let string = "0.1.0"
}
