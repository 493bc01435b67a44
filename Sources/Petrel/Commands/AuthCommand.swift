import ArgumentParser
import Foundation
import Logging
import MailAuth
import MailCore
import MailStore

struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth",
        abstract: "Authentication tools: test a login, list and lift login blocks.",
        subcommands: [Test.self, Blocked.self, Unblock.self]
    )

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a password the way a login would (like `doveadm auth test`).",
            discussion: """
                Reads the password from standard input (or asks for it on a terminal) and says whether it is
                accepted and which backend answered (sql, ldap or cyrus: the domain's, see `petrel domain auth`).
                Exits 0 when accepted, 1 when rejected, 2 when the backend could not answer. Failed-login
                throttling is not applied or counted. A legacy hash that verifies is rehashed to ARGON2ID, as
                at a real login.
                  echo 'secret' | petrel auth test demo@example.test
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The login name (the account's address).") var address: String
        @Option(help: "The service name given to the backend (Cyrus SASL passes it to saslauthd).") var service = "smtp"

        func run() async throws {
            try await reportingErrors {
                let password = try PasswordInput.read(fromStdin: !isatty0(), confirm: false)
                let context = try await CommandContext.make(global)
                let hasher = context.hasher
                let configuration = context.configuration
                let address = self.address
                let service = self.service
                let (outcome, scheme) = try await context.withDatabase { database in
                    let authenticator = configuration.authenticator(database: database, hasher: hasher,
                                                                    logger: Logger(label: "petrel.auth"))
                    // The stored scheme before the check (a legacy one is rehashed by it).
                    let stored = try? await authenticator.directory.credentials(EmailAddress(address))
                    let outcome = try await authenticator.check(username: address, password: password,
                                                                context: LoginContext(service: service, clientAddress: nil))
                    return (outcome, stored.flatMap { PasswordScheme.parse($0.passwordHash)?.scheme })
                }
                switch outcome {
                case .accepted(let user):
                    var detail = "backend \(user.backend.rawValue)"
                    if user.backend == .sql, let scheme {
                        detail += ", scheme \(scheme.rawValue)" + (scheme.isLegacy ? ", legacy: rehashed to ARGON2ID" : "")
                    }
                    print("accepted: \(user.address) (\(detail))")
                case .rejected(let reason):
                    throw CLIError("rejected: \(address): \(reason)")
                case .temporaryFailure(let reason), .throttled(let reason):
                    print("temporary failure: \(address): \(reason)")
                    throw ExitCode(2)
                }
            }
        }
    }

    struct Blocked: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List failed-login counters (shared by every node).",
            discussion: """
                Keys are account:ADDRESS and client:IP (an IPv6 client counts by its /64). Without --all, only
                the blocked ones.
                """
        )
        @OptionGroup var global: GlobalOptions
        @Flag(help: "Every counter, not only the blocked ones.") var all = false

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                let all = self.all
                let records = try await context.withDatabase { try await LoginFailures(database: $0).list(blockedOnly: !all) }
                let formatter = ISO8601DateFormatter()
                for record in records {
                    let blocked = record.blockedUntil.map { $0 > Date() ? "blocked until \(formatter.string(from: $0))" : "" } ?? ""
                    print("\(record.key)\t\(record.failures) failures\tlast \(formatter.string(from: record.lastFailure))\t\(blocked)")
                }
                if records.isEmpty { print(all ? "no failed-login counters" : "nothing is blocked") }
            }
        }
    }

    struct Unblock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lift a login block: clear the failed-login counter of an account or a client address.",
            discussion: """
                  petrel auth unblock user@example.com
                  petrel auth unblock 192.0.2.7
                """
        )
        @OptionGroup var global: GlobalOptions
        @Argument(help: "An account's address or a client's IP address.") var target: String

        func run() async throws {
            try await reportingErrors {
                let context = try await CommandContext.make(global)
                let key = target.contains("@") ? LoginThrottle.accountKey(target) : LoginThrottle.clientKey(target)
                guard try await context.withDatabase({ try await LoginFailures(database: $0).clear(key) }) else {
                    throw CLIError("no failed-login counter for \(target)")
                }
                print("unblocked \(key)")
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
func isatty0() -> Bool { isatty(STDIN_FILENO) != 0 }
