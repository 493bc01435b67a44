import ArgumentParser
import MailAuth
import MailCore
import MailStore

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage accounts.",
        subcommands: [Add.self, List.self, Show.self, Passwd.self, Enable.self, Disable.self, Remove.self]
    )

    struct PasswordOptions: ParsableArguments {
        @Flag(name: .long, help: "Read the password from the first line of standard input.")
        var passwordStdin = false
        @Option(name: .long, help: ArgumentHelp(
            "Store this existing hash as-is (Dovecot scheme syntax, e.g. '{SHA512-CRYPT}$6$…'), for imports.",
            valueName: "hash"))
        var passwordHash: String?

        /// The hash to store: the imported one (checked for a known scheme) or a new Argon2id hash,
        /// with SCRAM-SHA-256 secrets when the password itself was given (an imported hash gets
        /// them at its first login).
        func hashToStore(_ context: CommandContext) async throws -> (hash: String, scram: String?) {
            if let passwordHash {
                guard passwordStdin == false else { throw CLIError("give either --password-hash or --password-stdin, not both") }
                guard PasswordScheme.isSupported(passwordHash) else {
                    throw CLIError("--password-hash: unsupported scheme; Petrel reads {ARGON2ID}, {ARGON2I}, {BLF-CRYPT}, {SHA512-CRYPT}, {SHA256-CRYPT}, {MD5-CRYPT}, {CRYPT}, {SSHA512}, {SSHA256}, {SSHA}, {SHA512}, {SHA256}, {SHA}, {PLAIN-MD5}, {PLAIN} and bare crypt strings")
                }
                return (passwordHash, nil)
            }
            let password = try PasswordInput.read(fromStdin: passwordStdin, confirm: true)
            return (try await context.hasher.hash(password), try SCRAMSecrets.derive(password: password).stored)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an account.",
            discussion: """
                The password is asked for twice on a terminal and never echoed; --password-stdin reads it from
                standard input; --password-hash imports an existing hash unchanged.
                  echo 'secret' | petrel user add maomao@baidu.com --password-stdin --name 'Mao Mao' --quota 2G
                """
        )
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var password: PasswordOptions
        @Argument(help: "The account's address, in a local domain.") var address: String
        @Option(name: .long, help: "Display name.") var name: String = ""
        @Option(name: .long, help: "Storage limit (e.g. 500M, 2G; 0 = none).") var quota: String = "0"
        @Option(name: .long, help: "Message count limit (0 = none).") var quotaMessages: Int64 = 0

        func run() async throws {
            try await reportingErrors {
                let address = try Parse.address(self.address)
                let bytes = try Parse.size(quota)
                guard quotaMessages >= 0 else { throw CLIError("--quota-messages cannot be negative") }
                let context = try await CommandContext.make(global)
                // Check the domain before asking for a password that would be thrown away.
                _ = try await context.withDirectory { try await $0.domain(address.domain) }
                let hash = try await password.hashToStore(context)
                let record = try await context.withDirectory {
                    try await $0.addAccount(address, passwordHash: hash.hash, scramSHA256: hash.scram, displayName: name,
                                            quotaBytes: bytes, quotaMessages: quotaMessages)
                }
                if output.json { try Output.json(record) } else { print("added account \(record.address)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts, optionally of one domain.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Only this domain.") var domain: String?

        func run() async throws {
            try await reportingErrors {
                let domain = try domain.map(Parse.domain)
                let context = try await CommandContext.make(global)
                let accounts = try await context.withDirectory { directory in
                    if let domain { _ = try await directory.domain(domain) }
                    return try await directory.accounts(domain: domain)
                }
                if output.json { return try Output.json(accounts) }
                Output.table(["ADDRESS", "NAME", "SCHEME", "USED", "QUOTA", "ACTIVE"], accounts.map {
                    [$0.address, $0.displayName.isEmpty ? "-" : $0.displayName, $0.passwordScheme,
                     Output.bytes($0.usedBytes), $0.quotaBytes == 0 ? "unlimited" : Output.bytes($0.quotaBytes), $0.active ? "yes" : "no"]
                })
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one account.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The account's address.") var address: String

        func run() async throws {
            try await reportingErrors {
                let address = try Parse.address(self.address)
                let context = try await CommandContext.make(global)
                let a = try await context.withDirectory { try await $0.account(address) }
                if output.json { return try Output.json(a) }
                print("address:   \(a.address)")
                print("name:      \(a.displayName.isEmpty ? "-" : a.displayName)")
                print("active:    \(a.active ? "yes" : "no")")
                print("password:  \(a.passwordScheme)")
                print("storage:   \(Output.bytes(a.usedBytes)) of \(a.quotaBytes == 0 ? "unlimited" : Output.bytes(a.quotaBytes))")
                print("messages:  \(a.usedMessages) of \(a.quotaMessages == 0 ? "unlimited" : String(a.quotaMessages))")
                print("created:   \(Output.date(a.createdAt))")
            }
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set an account's password.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var password: PasswordOptions
        @Argument(help: "The account's address.") var address: String

        func run() async throws {
            try await reportingErrors {
                let address = try Parse.address(self.address)
                let context = try await CommandContext.make(global)
                _ = try await context.withDirectory { try await $0.account(address) }
                let hash = try await password.hashToStore(context)
                try await context.withDirectory { try await $0.setPasswordHash(address, hash.hash, scramSHA256: hash.scram) }
                print("password changed for \(address)")
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let an account log in and receive mail again.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's address.") var address: String

        func run() async throws {
            try await changeAccount(global, address, done: "enabled") { try await $0.setAccountActive($1, true) }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop an account from logging in and receiving mail; its data stays.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's address.") var address: String

        func run() async throws {
            try await changeAccount(global, address, done: "disabled") { try await $0.setAccountActive($1, false) }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an account.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The account's address.") var address: String

        func run() async throws {
            try await changeAccount(global, address, done: "removed account") { try await $0.removeAccount($1) }
        }
    }
}

/// One change to one account: parse the address, apply the change in the directory, say what was done.
func changeAccount(_ global: GlobalOptions, _ text: String, done: String,
                   _ change: @escaping @Sendable (Directory, EmailAddress) async throws -> Void) async throws {
    try await reportingErrors {
        let address = try Parse.address(text)
        let context = try await CommandContext.make(global)
        try await context.withDirectory { try await change($0, address) }
        print("\(done) \(address)")
    }
}
