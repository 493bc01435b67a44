import Foundation
import IMAPServer
import Logging
import MailAuth
import MailCore
import MailStore
import NIOPosix
import PetrelTestSupport
import ServerSupport

/// An IMAP node in the test process on a fresh database: example.test with demo@ and other@
/// (password "secret"); listeners imap (STARTTLS) and imaps (implicit TLS) on 127.0.0.1.
struct IMAPTestNode {
    let database: Database
    let group: ListenerGroup
    var directory: Directory { Directory(database: database) }
    var messages: MessageStore { MessageStore(database: database) }
    func port(_ name: String) -> Int { group.addresses[name]?.port ?? 0 }

    static let password = "secret"

    static func run(configure: @Sendable (inout IMAPConfiguration) -> Void = { _ in },
                    _ body: @Sendable (IMAPTestNode) async throws -> Void) async throws {
        try await TestDatabase.withMigrated { database in
            let directory = Directory(database: database)
            try await directory.addDomain(DomainName("example.test"))
            let parameters = Argon2Hash.Parameters(memoryKiB: 64, iterations: 1, parallelism: 1)
            let hash = try PasswordVerifier.hash(password, parameters: parameters)
            for user in ["demo", "other"] {
                try await directory.addAccount(EmailAddress("\(user)@example.test"), passwordHash: hash)
            }
            var configuration = IMAPConfiguration(hostname: "imap.example.test")
            configuration.tls = try TestCertificate.store()
            configure(&configuration)
            var logger = Logger(label: "imap-test")
            logger.logLevel = .critical
            let hub = ChangeEventHub(database: database)
            let listening = Task { await hub.run() }
            defer { listening.cancel() }
            await hub.waitUntilListening()
            let backend = StoreIMAPBackend(database: database, hasher: PasswordHasher(parameters: parameters), hub: hub)
            let service = IMAPService(configuration: configuration, backend: backend, logger: logger)
            let listeners = [service.listener(service.spec(name: "imap", host: "127.0.0.1", port: 0, tls: .starttls)),
                             service.listener(service.spec(name: "imaps", host: "127.0.0.1", port: 0, tls: .implicit))]
            let group = try await ListenerGroup.bind(listeners, tls: configuration.tls, group: MultiThreadedEventLoopGroup.singleton,
                                                     logger: logger)
            let running = Task { await group.run() }
            let node = IMAPTestNode(database: database, group: group)
            do {
                try await body(node)
            } catch {
                await group.drain(grace: .milliseconds(100))
                await running.value
                throw error
            }
            await group.drain(grace: .milliseconds(100))
            await running.value
        }
    }

    /// Delivers a message into an account's INBOX, as SMTP would.
    @discardableResult
    func deliver(_ text: String, to address: String = "demo@example.test", flags: MessageFlags = []) async throws -> UInt32 {
        try await deliver(bytes: Array(text.utf8), to: address, flags: flags)
    }

    @discardableResult
    func deliver(bytes: [UInt8], to address: String = "demo@example.test", flags: MessageFlags = []) async throws -> UInt32 {
        let account = try await directory.account(EmailAddress(address))
        let inbox = try await MailboxStore(database: database).mailbox(accountID: account.id, name: .inbox)
        let outcome = try await messages.deliver(PreparedMessage(raw: bytes),
                                                 to: [DeliveryTarget(accountID: account.id, mailboxID: inbox.id)], flags: flags)
        return outcome.stored[0].uid
    }

    /// A client that has read the greeting and, unless `login` is nil, logged in.
    func client(_ listener: String = "imap", login: String? = "demo@example.test") async throws -> IMAPTestClient {
        let client = try await IMAPTestClient.connect(port: port(listener), tls: listener == "imaps")
        let greeting = try await client.readResponse()
        precondition(greeting.hasPrefix("* OK"), "greeting: \(greeting)")
        if let login {
            let result = try await client.command("LOGIN \(login) \(Self.password)")
            precondition(result.status == "OK", "login: \(result)")
        }
        return client
    }
}
