import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A bare SMTP client over a real TCP socket, for protocol tests: sends exactly the bytes a
/// test gives, reads replies (multi-line joined), and can start TLS as a client.
final class SMTPTestClient {
    struct Reply: CustomStringConvertible {
        var code: Int
        var lines: [String]
        var text: String { lines.joined(separator: "\n") }
        var description: String { "\(code) \(text)" }
    }

    /// The server closed the connection before a whole reply.
    struct Timeout: Error {}

    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()
    private(set) var closed = false

    static func connect(port: Int, tls: Bool = false, host: String = "127.0.0.1") async throws -> SMTPTestClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls {
                        try channel.pipeline.syncOperations.addHandler(try Self.tlsHandler())
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return SMTPTestClient(channel: channel)
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

    func send(_ text: String) async throws {
        try await channel.outbound.write(ByteBuffer(string: text))
    }

    func send(bytes: [UInt8]) async throws {
        try await channel.outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Sends one command line and reads its reply.
    @discardableResult
    func command(_ line: String) async throws -> Reply {
        try await send(line + "\r\n")
        return try await reply()
    }

    /// The next reply; throws `Timeout` after `seconds`, or when the server closed first.
    func reply(seconds: Double = 10) async throws -> Reply {
        var lines: [String] = []
        while true {
            let line = try await readLine(seconds: seconds)
            guard line.count >= 3, let code = Int(line.prefix(3)) else { throw Timeout() }
            lines.append(String(line.dropFirst(4)))
            if line.count == 3 || line[line.index(line.startIndex, offsetBy: 3)] == " " {
                return Reply(code: code, lines: lines)
            }
        }
    }

    /// Replies until the connection closes (for checking that it does).
    func readUntilClosed(seconds: Double = 10) async throws -> [Reply] {
        var out: [Reply] = []
        while true {
            do { out.append(try await reply(seconds: seconds)) } catch is Timeout {
                if closed { return out }
                throw Timeout()
            }
        }
    }

    /// No timeout here: a hung server fails the test through the suite's time limit.
    private func readLine(seconds: Double) async throws -> String {
        while true {
            if let lf = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let length = lf - buffer.readerIndex + 1
                let bytes = buffer.readBytes(length: length)!
                return String(decoding: bytes.dropLast(bytes.count >= 2 && bytes[bytes.count - 2] == 13 ? 2 : 1), as: UTF8.self)
            }
            guard !closed else { throw Timeout() }
            do {
                if var chunk = try await iterator.next() {
                    buffer.writeBuffer(&chunk)
                } else {
                    closed = true
                }
            } catch {
                closed = true
            }
        }
    }

    /// Upgrades to TLS after the server's `220 Ready`.
    func startTLS() async throws {
        let channel = self.channel.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(try Self.tlsHandler(), position: .first)
        }.get()
    }

    func close() async {
        try? await channel.channel.close()
    }

    deinit {
        // NIOAsyncChannel insists on being finished; the socket itself is closed by the server or here.
        channel.outbound.finish()
        channel.channel.close(promise: nil)
    }
}
