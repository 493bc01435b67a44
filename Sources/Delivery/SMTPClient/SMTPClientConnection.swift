import NIOCore
import NIOPosix
import NIOSSL

/// One reply from a server (RFC 5321 §4.2): its code and text lines.
public struct SMTPClientReply: Sendable, CustomStringConvertible {
    public var code: Int
    public var lines: [String]

    public var isPositive: Bool { (200..<400).contains(code) }
    public var isTransient: Bool { (400..<500).contains(code) }
    public var isPermanent: Bool { code >= 500 }
    /// "250 2.1.5 Ok" as one line, for logs and DSNs.
    public var description: String { "\(code) \(lines.joined(separator: " "))" }
}

/// An outbound SMTP connection: bounded reply reading with a deadline per reply, raw writes,
/// and STARTTLS. Replies longer than `maximumLineLength` per line or `maximumLines` lines are a
/// protocol error, so a hostile server cannot make the client buffer without end.
final class SMTPClientConnection: @unchecked Sendable {   // one task at a time (sessions are handed over whole)
    static let maximumLineLength = 4096
    static let maximumLines = 200

    struct ProtocolError: Error, CustomStringConvertible {
        var description: String
    }

    private let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()
    let remote: String

    private init(channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, remote: String) {
        self.channel = channel
        self.iterator = channel.inbound.makeAsyncIterator()
        self.remote = remote
    }

    static func connect(address: String, port: Int, timeout: TimeAmount, group: any EventLoopGroup) async throws -> SMTPClientConnection {
        let target = try SocketAddress(ipAddress: address, port: port)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.allowRemoteHalfClosure, value: false)
            .connect(to: target) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return SMTPClientConnection(channel: channel, remote: "\(address):\(port)")
    }

    /// The next reply; throws when `timeout` passes first or the server closes.
    func reply(timeout: TimeAmount) async throws -> SMTPClientReply {
        var lines: [String] = []
        while true {
            let line = try await readLine(timeout: timeout)
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, let code = Int(String(line.prefix(3))), (200...599).contains(code),
                  bytes.count == 3 || bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-") else {
                throw ProtocolError(description: "malformed reply from \(remote): \(line.prefix(80))")
            }
            lines.append(String(line.dropFirst(4)))
            guard lines.count <= Self.maximumLines else { throw ProtocolError(description: "reply of too many lines from \(remote)") }
            if bytes.count == 3 || bytes[3] == UInt8(ascii: " ") { return SMTPClientReply(code: code, lines: lines) }
        }
    }

    func write(_ text: String) async throws {
        try await channel.outbound.write(ByteBuffer(string: text))
    }

    func write(_ buffer: ByteBuffer) async throws {
        try await channel.outbound.write(buffer)
    }

    /// Starts TLS as a client after the server's 220 to STARTTLS. The certificate is not
    /// checked (opportunistic TLS, RFC 7435); the session is still encrypted.
    func startTLS(serverName: String?) async throws {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        let context = try NIOSSLContext(configuration: configuration)
        let name = serverName.flatMap { $0.contains(":") || $0.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : $0 }
        let channel = self.channel.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: name),
                                                           position: .first)
        }.get()
    }

    func close() {
        channel.outbound.finish()
        channel.channel.close(promise: nil)
    }

    deinit {
        close()
    }

    private func readLine(timeout: TimeAmount) async throws -> String {
        let deadline = NIODeadline.now() + timeout
        while true {
            if let lf = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let bytes = buffer.readBytes(length: lf - buffer.readerIndex + 1)!
                let end = bytes.count >= 2 && bytes[bytes.count - 2] == 13 ? bytes.count - 2 : bytes.count - 1
                return String(decoding: bytes[..<end], as: UTF8.self)
            }
            guard buffer.readableBytes <= Self.maximumLineLength else {
                throw ProtocolError(description: "reply line longer than \(Self.maximumLineLength) octets from \(remote)")
            }
            let remaining = deadline - .now()
            guard remaining > .zero else { throw ProtocolError(description: "no reply from \(remote) in time") }
            let next = try await nextChunk(within: remaining)
            guard var chunk = next else {
                if NIODeadline.now() >= deadline { throw ProtocolError(description: "no reply from \(remote) in time") }
                throw ProtocolError(description: "\(remote) closed the connection")
            }
            buffer.writeBuffer(&chunk)
        }
    }

    /// The next chunk of input, nil at the end; closes the channel when `timeout` passes.
    private func nextChunk(within timeout: TimeAmount) async throws -> ByteBuffer? {
        let channel = self.channel.channel
        let timer = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        defer { timer.cancel() }
        let chunk = try await iterator.next()
        return chunk
    }
}
