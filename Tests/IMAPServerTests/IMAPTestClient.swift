import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// A bare IMAP client over a real TCP socket: sends exactly the bytes a test gives and reads
/// responses, literals included (inlined into their line as raw text).
final class IMAPTestClient {
    struct Closed: Error {}

    /// The untagged responses and the tagged one of a command.
    struct Result: CustomStringConvertible {
        var untagged: [String]
        var tagged: String
        var description: String { (untagged + [tagged]).joined(separator: "\n") }
        var status: String { tagged.split(separator: " ").dropFirst().first.map(String.init) ?? "" }
    }

    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()
    private(set) var closed = false
    private var counter = 0

    static func connect(port: Int, tls: Bool = false) async throws -> IMAPTestClient {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls { try channel.pipeline.syncOperations.addHandler(try Self.tlsHandler()) }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return IMAPTestClient(channel: channel)
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

    /// Sends `text` (which may hold literals) under a fresh tag and reads to its tagged reply.
    @discardableResult
    func command(_ text: String) async throws -> Result {
        counter += 1
        let tag = "t\(counter)"
        try await send("\(tag) \(text)\r\n")
        return try await responses(until: tag)
    }

    func responses(until tag: String) async throws -> Result {
        var untagged: [String] = []
        while true {
            let line = try await readResponse()
            if line.hasPrefix(tag + " ") { return Result(untagged: untagged, tagged: line) }
            untagged.append(line)
        }
    }

    /// One response line, with any literals it carries read and inlined.
    func readResponse() async throws -> String {
        var line = try await readLine()
        while line.hasSuffix("}"), let open = line.lastIndex(of: "{"), let size = Int(line[line.index(after: open)..<line.index(before: line.endIndex)]) {
            let bytes = try await readBytes(size)
            line += "\r\n" + String(decoding: bytes, as: UTF8.self) + (try await readLine())
        }
        return line
    }

    func readLine() async throws -> String {
        while true {
            if let lf = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                let bytes = buffer.readBytes(length: lf - buffer.readerIndex + 1)!
                return String(decoding: bytes.dropLast(bytes.count >= 2 && bytes[bytes.count - 2] == 13 ? 2 : 1), as: UTF8.self)
            }
            try await fill()
        }
    }

    func readBytes(_ count: Int) async throws -> [UInt8] {
        while buffer.readableBytes < count { try await fill() }
        return buffer.readBytes(length: count)!
    }

    private func fill() async throws {
        guard !closed else { throw Closed() }
        do {
            if var chunk = try await iterator.next() {
                buffer.writeBuffer(&chunk)
                return
            }
        } catch {}
        closed = true
        throw Closed()
    }

    /// Everything until the server closes.
    func readUntilClosed() async -> [String] {
        var out: [String] = []
        while let line = try? await readResponse() { out.append(line) }
        return out
    }

    func startTLS() async throws {
        let channel = self.channel.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(try Self.tlsHandler(), position: .first)
        }.get()
    }

    deinit {
        channel.outbound.finish()
        channel.channel.close(promise: nil)
    }
}
