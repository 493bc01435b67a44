import NIOCore
import NIOPosix

/// A stub resolver: asks the configured recursive nameservers (`delivery.nameservers`, by
/// default those of /etc/resolv.conf) over UDP, and again over TCP when the answer was
/// truncated (RFC 1035 §4.2). Every question has a deadline; a server that does not answer
/// makes the next one be asked. Tests point it at their own DNS server on 127.0.0.1.
public struct DNSResolver: Sendable {
    public struct Configuration: Sendable {
        public var nameservers: [SocketAddress]
        public var timeout: TimeAmount = .seconds(3)
        /// Rounds over all nameservers before giving up.
        public var attempts = 2

        public init(nameservers: [SocketAddress]) {
            self.nameservers = nameservers
        }
    }

    /// Why a question got no usable answer: always temporary for the mail that waits on it.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let configuration: Configuration
    let group: any EventLoopGroup

    public init(configuration: Configuration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
    }

    /// The answer to one question (NXDOMAIN and empty answers included: the caller decides).
    /// Throws `Failure` when no server answered or every answer was SERVFAIL or malformed.
    public func query(_ name: String, _ type: DNSRecordType) async throws -> DNSResponse {
        guard !configuration.nameservers.isEmpty else { throw Failure(description: "no nameserver configured") }
        var lastError = "no answer"
        for _ in 0..<configuration.attempts {
            for server in configuration.nameservers {
                let id = UInt16.random(in: 0...UInt16.max)
                do {
                    let question = try DNSMessage.query(id: id, name: name, type: type)
                    var response = try DNSMessage.parse(try await exchangeUDP(question, with: server))
                    if response.truncated {
                        response = try DNSMessage.parse(try await exchangeTCP(question, with: server))
                    }
                    guard response.id == id else { lastError = "answer to another question"; continue }
                    // RCODE 0 and 3 are answers; SERVFAIL, REFUSED and the rest are not.
                    guard response.responseCode == 0 || response.responseCode == 3 else {
                        lastError = "\(server) answered RCODE \(response.responseCode)"
                        continue
                    }
                    return response
                } catch let error as DNSMessageError {
                    lastError = "\(server): \(error)"
                } catch {
                    lastError = "\(server): \(error)"
                }
            }
        }
        throw Failure(description: "DNS lookup of \(name) failed: \(lastError)")
    }

    func exchangeUDP(_ question: [UInt8], with server: SocketAddress) async throws -> [UInt8] {
        let local = server.protocol == .inet6 ? "::" : "0.0.0.0"
        let channel = try await DatagramBootstrap(group: group)
            .bind(host: server.ipAddress?.hasPrefix("127.") == true ? "127.0.0.1" : local, port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await withDeadline(configuration.timeout) {
            try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: question)))
                for try await envelope in inbound where envelope.remoteAddress == server {
                    return Array(envelope.data.readableBytesView)
                }
                throw Failure(description: "no answer")
            }
        } onTimeout: {
            channel.channel.close(promise: nil)
        }
    }

    func exchangeTCP(_ question: [UInt8], with server: SocketAddress) async throws -> [UInt8] {
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(configuration.timeout)
            .connect(to: server) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await withDeadline(configuration.timeout) {
            try await channel.executeThenClose { inbound, outbound in
                var framed = ByteBuffer()
                framed.writeInteger(UInt16(question.count))
                framed.writeBytes(question)
                try await outbound.write(framed)
                var received = ByteBuffer()
                for try await var chunk in inbound {
                    received.writeBuffer(&chunk)
                    guard let length = received.getInteger(at: received.readerIndex, as: UInt16.self) else { continue }
                    if received.readableBytes >= 2 + Int(length) {
                        return Array(received.readableBytesView.dropFirst(2).prefix(Int(length)))
                    }
                }
                throw Failure(description: "connection closed before the whole answer")
            }
        } onTimeout: {
            channel.channel.close(promise: nil)
        }
    }
}

/// Runs `body`, and once `timeout` has passed calls `onTimeout` (which should close what
/// `body` waits on) and throws `DeadlineExceeded`.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var description: String { "timed out" }
}

func withDeadline<T: Sendable>(_ timeout: TimeAmount, _ body: @escaping @Sendable () async throws -> T,
                               onTimeout: @escaping @Sendable () -> Void) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(nanoseconds: UInt64(max(timeout.nanoseconds, 0)))
            return nil
        }
        defer { group.cancelAll() }
        while let result = try await group.next() {
            if let value = result { return value }
            onTimeout()
            throw DeadlineExceeded()
        }
        throw DeadlineExceeded()
    }
}
