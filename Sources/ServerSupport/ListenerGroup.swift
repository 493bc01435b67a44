import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A protocol's entry point: called once per accepted connection, on its own task. Returns
/// when the session is over; the connection is closed after.
public typealias ConnectionHandler = @Sendable (ClientConnection) async -> Void

/// A listener and what serves its connections.
public struct Listener: Sendable {
    public var spec: ListenerSpec
    public var handler: ConnectionHandler

    public init(spec: ListenerSpec, handler: @escaping ConnectionHandler) {
        self.spec = spec
        self.handler = handler
    }
}

/// The node's listening sockets and their connections: binds every listener, accepts with
/// limits, runs one task per connection, and drains on request (stop accepting, let sessions
/// finish what they are doing, close the rest after a grace period).
public final class ListenerGroup: Sendable {
    typealias ChildChannel = NIOAsyncChannel<InboundChunk, ByteBuffer>
    /// A configured connection, not reading yet: it is wrapped in an async channel by the task
    /// that serves it, so a connection accepted while the listener closes (and never served) is
    /// just closed (apple/swift-nio#2813: an async channel dropped unconsumed traps).
    struct Accepted: Sendable {
        var channel: any Channel
        var gate: NIOLoopBound<TLSUpgradeGate>
    }

    private struct Bound: Sendable {
        var listener: Listener
        var server: NIOAsyncChannel<Accepted, Never>
    }

    private let bound: [Bound]
    private let registry = ConnectionRegistry()
    private let logger: Logger

    /// Where each listener ended up (a port of 0 in the spec picks a free one), by name.
    public let addresses: [String: SocketAddress]

    private init(bound: [Bound], logger: Logger) {
        self.bound = bound
        self.logger = logger
        var addresses: [String: SocketAddress] = [:]
        for b in bound { addresses[b.listener.spec.name] = b.server.channel.localAddress }
        self.addresses = addresses
    }

    /// Binds every listener (all or none: a failure closes those already bound).
    public static func bind(_ listeners: [Listener], tls: TLSContextStore?, group: any EventLoopGroup,
                            logger: Logger) async throws -> ListenerGroup {
        var bound: [Bound] = []
        do {
            for listener in listeners {
                let spec = listener.spec
                if spec.tls != .none && tls == nil {
                    throw TLSContextStore.LoadError(description: "listener \(spec.name) needs TLS but no certificate is configured")
                }
                let server = try await ServerBootstrap(group: group)
                    .serverChannelOption(.backlog, value: 256)
                    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                    .childChannelOption(.socketOption(.so_keepalive), value: 1)
                    .childChannelOption(.allowRemoteHalfClosure, value: false)
                    .childChannelOption(.autoRead, value: false)
                    .bind(host: spec.host, port: spec.port) { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try Self.configure(channel, spec: spec, tls: tls)
                        }
                    }
                bound.append(Bound(listener: listener, server: server))
            }
        } catch {
            for b in bound { try? await b.server.channel.close() }
            throw error
        }
        return ListenerGroup(bound: bound, logger: logger)
    }

    /// Sets up one accepted connection's pipeline (on its event loop).
    private static func configure(_ channel: any Channel, spec: ListenerSpec, tls: TLSContextStore?) throws -> Accepted {
        let sync = channel.pipeline.syncOperations
        if spec.tls == .implicit, let tls {
            try sync.addHandler(TLSCipherObserver())
            try sync.addHandler(NIOSSLServerHandler(context: tls.current))
        }
        try sync.addHandler(IdleStateHandler(readTimeout: spec.idleTimeout))
        try sync.addHandler(IdleTimeoutCloser(reply: spec.timeoutReply))
        let gate = TLSUpgradeGate()
        try sync.addHandler(gate)
        return Accepted(channel: channel, gate: NIOLoopBound(gate, eventLoop: channel.eventLoop))
    }

    /// Wraps an accepted connection for async use and lets it start reading.
    private static func activate(_ channel: any Channel) async throws -> ChildChannel {
        try await channel.eventLoop.submit {
            let child = try ChildChannel(wrappingChannelSynchronously: channel)
            try channel.syncOptions?.setOption(.autoRead, value: true)
            channel.read()
            return child
        }.get()
    }

    /// Accepts and serves until `drain` has stopped the listeners and every session is over.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for b in bound {
                group.addTask { await self.accept(on: b) }
            }
        }
    }

    private func accept(on bound: Bound) async {
        let spec = bound.listener.spec
        let handler = bound.listener.handler
        do {
            try await bound.server.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await accepted in inbound {
                        group.addTask { await self.serve(accepted, spec: spec, handler: handler) }
                    }
                }
            }
        } catch {
            logger.error("listener failed", metadata: ["listener": "\(spec.name)", "error": "\(error)"])
        }
    }

    private func serve(_ accepted: Accepted, spec: ListenerSpec, handler: ConnectionHandler) async {
        let channel = accepted.channel
        guard let child = try? await Self.activate(channel) else {
            try? await channel.close()
            return
        }
        let client = channel.remoteAddress?.ipAddress ?? "unknown"
        switch registry.admit(spec, client: client, channel: channel, gate: accepted.gate) {
        case .refused(let why):
            logger.notice("connection refused", metadata: ["listener": "\(spec.name)", "client": "\(client)", "reason": "\(why)"])
            try? await child.executeThenClose { _, outbound in
                try await outbound.write(channel.allocator.buffer(string: spec.busyReply))
            }
        case .admitted(let id):
            defer { registry.release(id) }
            let isTLS = spec.tls == .implicit
            try? await child.executeThenClose { inbound, outbound in
                let connection = ClientConnection(listener: spec, channel: channel, gate: accepted.gate, isTLS: isTLS,
                                                  inbound: inbound, outbound: outbound)
                await handler(connection)
            }
        }
    }

    /// Stops accepting and asks every open session to finish (SMTP: after the current
    /// transaction, `421`); after `grace`, closes what is still open. Returns when the
    /// listeners are closed; `run()` returns once the sessions are gone.
    public func drain(grace: Duration) async {
        for b in bound { try? await b.server.channel.close() }
        registry.requestDrain()
        let registry = self.registry
        let deadline = ContinuousClock.now + grace
        while registry.count > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if registry.count > 0 {
            logger.notice("closing sessions still open after the drain period", metadata: ["sessions": "\(registry.count)"])
            registry.closeAll()
        }
    }

    /// Open connections on every listener.
    public var openConnections: Int { registry.count }
}
