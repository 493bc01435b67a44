import ArgumentParser
import MailAuth
import MailStore

struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth",
        abstract: "Authentication tools.",
        subcommands: [Test.self]
    )

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a password the way a login would (like `doveadm auth test`).",
            discussion: """
                Reads the password from standard input (or asks for it on a terminal) and says whether it is
                accepted and by which scheme and backend. Exits 0 when accepted, 1 when not.
                  echo 'secret' | petrel auth test demo@example.test
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The login name (the account's address).") var address: String

        func run() async throws {
            try await reportingErrors {
                let password = try PasswordInput.read(fromStdin: !isatty0(), confirm: false)
                let context = try await CommandContext.make(global)
                let hasher = context.hasher
                let outcome = try await context.withDirectory { directory in
                    try await SQLAuthenticator(directory: directory, hasher: hasher).authenticate(username: address, password: password)
                }
                switch outcome {
                case .accepted(_, let address, let scheme):
                    print("accepted: \(address) (backend sql, scheme \(scheme.rawValue)\(scheme.isLegacy ? ", legacy: rehash to ARGON2ID recommended" : ""))")
                case .rejected(let reason):
                    throw CLIError("rejected: \(address): \(reason)")
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
func isatty0() -> Bool { isatty(STDIN_FILENO) != 0 }
