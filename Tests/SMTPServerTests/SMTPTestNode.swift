import Foundation
import Logging
import MailAuth
import MailCore
import MailStore
import NIOPosix
import PetrelTestSupport
import ServerSupport
import SMTPServer

/// An SMTP node started in-process for one test: a fresh migrated database with the domain
/// example.test (accounts demo@ and other@, password "secret"; alias sales@ -> demo; alias
/// domain alias.test), listeners smtp / submission / submissions on free loopback ports.
struct SMTPTestNode: Sendable {
    let database: Database
    let group: ListenerGroup
    let configuration: SMTPConfiguration

    var directory: Directory { Directory(database: database) }
    var store: MessageStore { MessageStore(database: database) }

    func port(_ name: String) -> Int { group.addresses[name]!.port! }
    var smtpPort: Int { port("smtp") }
    var submissionPort: Int { port("submission") }
    var submissionsPort: Int { port("submissions") }

    static let password = "secret"
    static let hashParameters = Argon2Hash.Parameters(memoryKiB: 64, iterations: 1, parallelism: 1)

    static func run(configure: @Sendable (inout SMTPConfiguration) -> Void = { _ in },
                    listener: @Sendable (inout ListenerSpec) -> Void = { _ in },
                    backend makeBackend: (@Sendable (Database) -> any SMTPBackend)? = nil,
                    _ body: @Sendable (SMTPTestNode) async throws -> Void) async throws {
        try await TestDatabase.withMigrated { database in
            let directory = Directory(database: database)
            try await directory.addDomain(DomainName("example.test"))
            try await directory.addDomain(DomainName("alias.test"), aliasOf: DomainName("example.test"))
            let hash = try PasswordVerifier.hash(password, parameters: hashParameters)
            for user in ["demo", "other"] {
                try await directory.addAccount(EmailAddress("\(user)@example.test"), passwordHash: hash)
            }
            try await directory.addAlias(AliasSource("sales@example.test"), targets: ["demo"])
            var configuration = SMTPConfiguration(hostname: "mx.example.test")
            configuration.tls = try TestCertificate.store()
            configure(&configuration)
            var logger = Logger(label: "smtp-test")
            logger.logLevel = .critical
            let backend = makeBackend?(database)
                ?? StoreSMTPBackend(database: database, hasher: PasswordHasher(parameters: hashParameters), limits: .default)
            let service = SMTPService(configuration: configuration, backend: backend, logger: logger)
            var listeners: [Listener] = []
            for (name, tls, role) in [("smtp", TLSMode.starttls, SMTPRole.mx), ("submission", .starttls, .submission),
                                      ("submissions", .implicit, .submission)] {
                var spec = service.spec(name: name, host: "127.0.0.1", port: 0, tls: tls)
                listener(&spec)
                listeners.append(service.listener(spec, role: role))
            }
            let group = try await ListenerGroup.bind(listeners, tls: configuration.tls,
                                                     group: MultiThreadedEventLoopGroup.singleton, logger: logger)
            let running = Task { await group.run() }
            let node = SMTPTestNode(database: database, group: group, configuration: configuration)
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

    /// The messages in an account's INBOX, as an IMAP client would fetch them (BODY[]).
    func inbox(_ address: String) async throws -> [String] {
        guard let account = try await directory.deliveryAccount(EmailAddress(address)) else { return [] }
        var out: [String] = []
        for uid in try await store.uids(accountID: account.accountID, mailboxID: account.inboxID) {
            let bytes = try await store.contentBytes(accountID: account.accountID, mailboxID: account.inboxID, uid: uid)
            out.append(String(decoding: bytes, as: UTF8.self))
        }
        return out
    }

    /// Remote recipients queued, all messages.
    func queued() async throws -> [String] {
        try await store.allQueuedRecipients()
    }

    /// A connected client that has read the greeting and said EHLO.
    func client(_ listener: String = "smtp", ehlo: Bool = true) async throws -> SMTPTestClient {
        let client = try await SMTPTestClient.connect(port: port(listener), tls: listener == "submissions")
        let greeting = try await client.reply()
        precondition(greeting.code == 220, "greeting: \(greeting)")
        if ehlo { try await client.command("EHLO client.test") }
        return client
    }
}

extension String {
    /// The value of the first header field `name` (unfolded), nil when absent.
    func header(_ name: String) -> String? {
        let head = components(separatedBy: "\r\n\r\n").first ?? ""
        var lines = head.components(separatedBy: "\r\n")
        while !lines.isEmpty {
            let line = lines.removeFirst()
            guard line.lowercased().hasPrefix(name.lowercased() + ":") else { continue }
            var value = String(line.dropFirst(name.count + 1))
            while let next = lines.first, next.hasPrefix(" ") || next.hasPrefix("\t") {
                value += " " + next.trimmingCharacters(in: .whitespaces)
                lines.removeFirst()
            }
            return value.trimmingCharacters(in: .whitespaces)
        }
        return nil
    }
}
