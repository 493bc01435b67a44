import Foundation
import Logging
import MailAuth
import MailCore
import MailStore
import NIOCore
import NIOPosix
import NIOSSL
import PetrelTestSupport
import POP3Server
import ServerSupport

/// A POP3 node in the test process on a fresh database: example.test with demo@ and other@
/// (password "secret"); listeners pop3 (STLS) and pop3s on 127.0.0.1.
struct POP3TestNode {
    let database: Database
    let group: ListenerGroup
    func port(_ name: String) -> Int { group.addresses[name]?.port ?? 0 }

    static func run(configure: @Sendable (inout POP3Configuration) -> Void = { _ in },
                    backend makeBackend: (@Sendable (Database) -> any POP3Backend)? = nil,
                    _ body: @Sendable (POP3TestNode) async throws -> Void) async throws {
        try await TestDatabase.withMigrated { database in
            let directory = Directory(database: database)
            try await directory.addDomain(DomainName("example.test"))
            let parameters = Argon2Hash.Parameters(memoryKiB: 64, iterations: 1, parallelism: 1)
            let hash = try PasswordVerifier.hash("secret", parameters: parameters)
            for user in ["demo", "other"] { try await directory.addAccount(EmailAddress("\(user)@example.test"), passwordHash: hash) }
            var configuration = POP3Configuration(hostname: "pop.example.test")
            configuration.tls = try TestCertificate.store()
            configure(&configuration)
            var logger = Logger(label: "pop3-test")
            logger.logLevel = .critical
            let backend = makeBackend?(database) ?? StorePOP3Backend(database: database, hasher: PasswordHasher(parameters: parameters))
            let service = POP3Service(configuration: configuration, backend: backend, logger: logger)
            let listeners = [service.listener(service.spec(name: "pop3", host: "127.0.0.1", port: 0, tls: .starttls)),
                             service.listener(service.spec(name: "pop3s", host: "127.0.0.1", port: 0, tls: .implicit))]
            let group = try await ListenerGroup.bind(listeners, tls: configuration.tls, group: MultiThreadedEventLoopGroup.singleton,
                                                     logger: logger)
            let running = Task { await group.run() }
            do {
                try await body(POP3TestNode(database: database, group: group))
            } catch {
                await group.drain(grace: .milliseconds(100))
                await running.value
                throw error
            }
            await group.drain(grace: .milliseconds(100))
            await running.value
        }
    }

    /// Delivers into an account's INBOX as SMTP would.
    func deliver(_ text: String, to address: String = "demo@example.test") async throws {
        let account = try await Directory(database: database).account(EmailAddress(address))
        let inbox = try await MailboxStore(database: database).mailbox(accountID: account.id, name: .inbox)
        _ = try await MessageStore(database: database).deliver(PreparedMessage(raw: Array(text.utf8)),
                                                               to: [DeliveryTarget(accountID: account.id, mailboxID: inbox.id)])
    }

    func inboxCount(_ address: String = "demo@example.test") async throws -> Int {
        let account = try await Directory(database: database).account(EmailAddress(address))
        let inbox = try await MailboxStore(database: database).mailbox(accountID: account.id, name: .inbox)
        return try await MessageStore(database: database).uids(accountID: account.id, mailboxID: inbox.id).count
    }

    func client(_ listener: String = "pop3") async throws -> POP3TestClient {
        let client = try await POP3TestClient.connect(port: port(listener), tls: listener == "pop3s")
        let greeting = try await client.line()
        precondition(greeting.hasPrefix("+OK"), "greeting: \(greeting)")
        return client
    }

    func loggedIn(_ user: String = "demo@example.test") async throws -> POP3TestClient {
        let c = try await client()
        let userReply = try await c.command("USER \(user)")
        precondition(userReply.hasPrefix("+OK"), "USER: \(userReply)")
        let pass = try await c.command("PASS secret")
        precondition(pass.hasPrefix("+OK"), "login: \(pass)")
        return c
    }
}

/// A bare POP3 client over a real socket.
final class POP3TestClient {
    struct Closed: Error {}
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()

    static func connect(port: Int, tls: Bool) async throws -> POP3TestClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls { try channel.pipeline.syncOperations.addHandler(try Self.tlsHandler()) }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return POP3TestClient(channel: channel)
    }

    init(channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) {
        self.channel = channel
        self.iterator = channel.inbound.makeAsyncIterator()
    }

    static func tlsHandler() throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return try NIOSSLClientHandler(context: NIOSSLContext(configuration: configuration), serverHostname: nil)
    }

    func send(_ text: String) async throws { try await channel.outbound.write(ByteBuffer(string: text)) }

    func command(_ line: String) async throws -> String {
        try await send(line + "\r\n")
        return try await self.line()
    }

    /// A multi-line reply: the status line and the lines up to ".", un-stuffed, CR LF kept off.
    func multiline(_ line: String) async throws -> (String, [String]) {
        let status = try await command(line)
        guard status.hasPrefix("+OK") else { return (status, []) }
        return (status, try await body())
    }

    func body() async throws -> [String] {
        var lines: [String] = []
        while true {
            let next = try await self.line()
            if next == "." { return lines }
            lines.append(next.hasPrefix(".") ? String(next.dropFirst()) : next)
        }
    }

    func line() async throws -> String {
        while true {
            if let lf = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let bytes = buffer.readBytes(length: lf - buffer.readerIndex + 1)!
                return String(decoding: bytes.dropLast(bytes.count >= 2 && bytes[bytes.count - 2] == 13 ? 2 : 1), as: UTF8.self)
            }
            guard var chunk = try await iterator.next() else { throw Closed() }
            buffer.writeBuffer(&chunk)
        }
    }

    func startTLS() async throws {
        let channel = self.channel.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(try Self.tlsHandler(), position: .first)
        }.get()
    }

    func close() async { try? await channel.channel.close() }

    deinit {
        channel.outbound.finish()
        channel.channel.close(promise: nil)
    }
}
