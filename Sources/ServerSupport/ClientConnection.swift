import NIOCore
import NIOSSL

/// One accepted connection as a protocol session sees it: bounded reads of lines or bytes,
/// buffered writes flushed when the client has nothing more pipelined, the STARTTLS upgrade,
/// and the drain request. Owned by the session's task; not shared.
public final class ClientConnection {
    public let listener: ListenerSpec
    public let remoteAddress: SocketAddress?
    public let localAddress: SocketAddress?
    /// Set once TLS is up: by the listener (implicit TLS) or by `startTLS`.
    public private(set) var isTLS: Bool
    /// True once the node asked to drain: finish what is in progress, then close.
    public private(set) var drainRequested = false

    let channel: any Channel
    private let gate: NIOLoopBound<TLSUpgradeGate>
    private var iterator: NIOAsyncChannelInboundStream<InboundChunk>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer: ByteBuffer
    /// Bytes of `buffer` already searched for a line end.
    private var scanned = 0
    private var epoch = 0
    private var pending: ByteBuffer
    private var ended = false
    /// Inside an overlong line, dropping it to its end (kept across a `.wake`).
    private var discarding = false

    init(listener: ListenerSpec, channel: any Channel, gate: NIOLoopBound<TLSUpgradeGate>, isTLS: Bool,
         inbound: NIOAsyncChannelInboundStream<InboundChunk>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.listener = listener
        self.channel = channel
        self.gate = gate
        self.isTLS = isTLS
        self.remoteAddress = channel.remoteAddress
        self.localAddress = channel.localAddress
        self.iterator = inbound.makeAsyncIterator()
        self.outbound = outbound
        self.buffer = channel.allocator.buffer(capacity: 1024)
        self.pending = channel.allocator.buffer(capacity: 1024)
    }

    /// The client's IP address as text (`127.0.0.1`, `::1`), or "unknown".
    public var remoteIP: String { remoteAddress?.ipAddress ?? "unknown" }

    /// Whether the client is on the loopback interface (where plaintext passwords are allowed).
    public var isLoopback: Bool {
        guard let ip = remoteAddress?.ipAddress else { return false }
        return ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.")
    }

    // MARK: Reading

    public enum Line {
        /// A line without its end; `crlf` false when it ended with a bare LF.
        case line([UInt8], crlf: Bool)
        /// Longer than allowed; it was read to its end and dropped.
        case tooLong
        /// The node is draining (see `drainRequested`).
        case drain
        /// `ConnectionWaker.wake()` was called (and no line is complete yet).
        case wake
        /// The client closed the connection (or it failed).
        case end
    }

    /// Reads one line of at most `limit` bytes, the line end included.
    public func readLine(limit: Int) async -> Line {
        var deadline: Scheduled<Void>?
        defer { deadline?.cancel() }
        while true {
            let view = buffer.readableBytesView
            if let lf = view[(view.startIndex + scanned)...].firstIndex(of: UInt8(ascii: "\n")) {
                let length = lf - view.startIndex + 1
                scanned = 0
                if discarding || length > limit {
                    discarding = false
                    buffer.moveReaderIndex(forwardBy: length)
                    return .tooLong
                }
                let bytes = buffer.readBytes(length: length)!
                let crlf = length >= 2 && bytes[length - 2] == UInt8(ascii: "\r")
                return .line(Array(bytes.dropLast(crlf ? 2 : 1)), crlf: crlf)
            }
            scanned = view.count
            if view.count > limit {
                // Keep nothing of an overlong line: drop what is here and go on to its end.
                discarding = true
                buffer.moveReaderIndex(forwardBy: view.count)
                scanned = 0
            }
            // A line has begun: from here it must end within the command timeout. (Before its
            // first byte, the idle timeout applies.) Armed only when we have to wait.
            if deadline == nil && (view.count > 0 || discarding) {
                deadline = armDeadline(listener.commandTimeout)
            }
            switch await fill() {
            case .more: continue
            case .drain: return .drain
            case .wake: return .wake
            case .end: return .end
            }
        }
    }

    /// Waits until some input is buffered. False at the end of input. A drain request is
    /// remembered (`drainRequested`) and does not interrupt: a body in flight is finished.
    public func waitForInput() async -> Bool {
        while buffer.readableBytes == 0 {
            switch await fill() {
            case .more, .drain, .wake: continue
            case .end: return false
            }
        }
        return true
    }

    /// Runs `body` (reading a message body, say) under a deadline: when it has not returned
    /// within `timeout`, the client gets the listener's `timeoutReply` and the connection is
    /// closed, so that `body`'s reads end.
    public func withDeadline<Result>(_ timeout: TimeAmount, _ body: () async -> Result) async -> Result {
        let deadline = armDeadline(timeout)
        defer { deadline.cancel() }
        return await body()
    }

    /// Schedules the timeout path of the pipeline (`IdleTimeoutCloser`: reply, then close).
    private func armDeadline(_ timeout: TimeAmount) -> Scheduled<Void> {
        let channel = self.channel
        return channel.eventLoop.scheduleTask(in: timeout) {
            channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.read)
        }
    }

    /// The bytes buffered and not consumed yet.
    public var bufferedBytes: ByteBufferView { buffer.readableBytesView }

    /// Marks `count` buffered bytes as read.
    public func consume(_ count: Int) {
        buffer.moveReaderIndex(forwardBy: count)
        scanned = 0
    }

    /// Whether the client has sent bytes that are not processed yet (pipelining).
    public var hasBufferedInput: Bool { buffer.readableBytes > 0 }

    /// Throws away what the client pipelined and we have not read.
    public func discardBufferedInput() {
        buffer.moveReaderIndex(to: buffer.writerIndex)
        scanned = 0
    }

    private enum Fill { case more, drain, wake, end }

    private func fill() async -> Fill {
        guard !ended else { return .end }
        do {
            while let chunk = try await iterator.next() {
                switch chunk {
                case .drain:
                    drainRequested = true
                    return .drain
                case .wake:
                    return .wake
                case .bytes(let chunkEpoch, var bytes):
                    // Plaintext read before a TLS upgrade is never acted on after it.
                    guard chunkEpoch == epoch else { continue }
                    if buffer.readableBytes == 0 { buffer.clear() } else { buffer.discardReadBytes() }
                    buffer.writeBuffer(&bytes)
                    return .more
                }
            }
        } catch {
            // A reset or a TLS failure ends the session like a close.
        }
        ended = true
        return .end
    }

    // MARK: Writing

    /// Bytes queued and not flushed yet.
    public var pendingBytes: Int { pending.readableBytes }

    /// Queues a reply; `flush` sends what is queued.
    public func send(_ text: String) {
        pending.writeString(text)
    }

    public func send(bytes: ByteBuffer) {
        var bytes = bytes
        pending.writeBuffer(&bytes)
    }

    /// Sends queued replies. Replies to pipelined commands are sent together (RFC 2920 §3.1
    /// lets a server batch them) when `onlyIfIdle` and more input is waiting.
    public func flush(onlyIfIdle: Bool = false) async {
        if onlyIfIdle && hasBufferedInput && pending.readableBytes < 16 * 1024 { return }
        guard pending.readableBytes > 0 else { return }
        let out = pending
        pending = channel.allocator.buffer(capacity: 1024)
        do { try await outbound.write(out) } catch { ended = true }
    }

    // MARK: TLS

    /// Starts TLS as the server: sends the protocol's go-ahead reply, queued with `send` and
    /// not flushed yet, then puts the TLS handler in. Input pipelined before the go-ahead is
    /// discarded, here and in flight; input that arrives after it (the client's handshake,
    /// which may come before the TLS handler is in) is held and handed to the TLS handler.
    public func startTLS(context: NIOSSLContext) async throws {
        discardBufferedInput()
        let gate = self.gate
        let channel = self.channel
        try await channel.eventLoop.submit { gate.value.hold() }.get()
        await flush()
        epoch = try await channel.eventLoop.submit {
            let next = gate.value.advanceEpoch()
            let handler = NIOSSLServerHandler(context: context)
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
            // On the socket side of the TLS handler: it reads the ServerHello going out.
            try channel.pipeline.syncOperations.addHandler(TLSCipherObserver(), position: .first)
            gate.value.releaseHeld()
            return next
        }.get()
        isTLS = true
    }

    /// The negotiated TLS version (`TLSv1.3`), once the handshake is done.
    public func tlsVersion() async -> String? {
        guard isTLS, let version = try? await channel.nioSSL_tlsVersion().get() else { return nil }
        switch version {
        case .tlsv13: return "TLSv1.3"
        case .tlsv12: return "TLSv1.2"
        case .tlsv11: return "TLSv1.1"
        case .tlsv1: return "TLSv1"
        }
    }

    /// A handle another task may use to interrupt a `readLine` waiting for the client.
    public func waker() -> ConnectionWaker {
        ConnectionWaker(gate: gate, eventLoop: channel.eventLoop)
    }

    /// The negotiated cipher suite's IANA name (`TLS_AES_256_GCM_SHA384`), once the handshake
    /// is done.
    public func tlsCipher() async -> String? {
        guard isTLS else { return nil }
        let channel = self.channel
        return try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: TLSCipherObserver.self).cipher.withLockedValue { $0 }
        }.get()
    }

    /// Closes the connection now.
    public func close() async {
        try? await channel.close()
    }
}

/// Wakes a session waiting in `readLine` (it returns `.wake`), from any task or thread.
public struct ConnectionWaker: Sendable {
    let gate: NIOLoopBound<TLSUpgradeGate>
    let eventLoop: any EventLoop

    public func wake() {
        let gate = self.gate
        eventLoop.execute { gate.value.injectWake() }
    }
}
