import NIOCore

/// What a session reads from its connection: bytes, tagged with the TLS epoch they arrived
/// in, or the node's request to drain.
public enum InboundChunk: Sendable {
    case bytes(epoch: Int, ByteBuffer)
    /// The node is shutting down: finish the current transaction, then say goodbye.
    case drain
    /// Something the session waits for besides the client happened (IMAP IDLE: new mail).
    case wake
}

/// Sits just below the session. Tags every read with the current TLS epoch, so that bytes a
/// client pipelined before a STARTTLS upgrade (read as plaintext, maybe already queued for the
/// session) can be told apart from what arrives through TLS and thrown away (RFC 3207 §4.2,
/// RFC 2595 §3.1: nothing sent before the upgrade may be acted on after it). Also injects the
/// drain marker in order with the data.
final class TLSUpgradeGate: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = InboundChunk

    private(set) var epoch = 0
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Bytes that arrived while a STARTTLS go-ahead was on its way: the client's TLS
    /// handshake, read before the TLS handler was in place. Nil when not holding.
    private var held: ByteBuffer?
    /// A ClientHello is a few KiB; a client sending more than this before the handshake is not
    /// doing TLS.
    static let maximumHeld = 64 * 1024

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if held != nil {
            guard held!.readableBytes + bytes.readableBytes <= Self.maximumHeld else {
                context.close(promise: nil)
                return
            }
            held!.writeBuffer(&bytes)
            return
        }
        context.fireChannelRead(wrapInboundOut(.bytes(epoch: epoch, bytes)))
    }

    /// Called on the event loop before the go-ahead of a STARTTLS (`220`, `OK`, `+OK`) is
    /// written: from then on input is held, not read as plaintext, for the TLS handler.
    func hold() {
        if held == nil { held = context?.channel.allocator.buffer(capacity: 0) ?? ByteBuffer() }
    }

    /// Called on the event loop right before the TLS handler goes in.
    func advanceEpoch() -> Int {
        epoch += 1
        return epoch
    }

    /// Called on the event loop once the TLS handler is in: what was held goes through it, from
    /// the head of the pipeline (RFC 3207 §4: the client starts the handshake as soon as it
    /// has the go-ahead, which can be before the server has put TLS in place).
    func releaseHeld() {
        guard let bytes = held else { return }
        held = nil
        guard let context, bytes.readableBytes > 0 else { return }
        context.pipeline.fireChannelRead(NIOAny(bytes))
        context.pipeline.fireChannelReadComplete()
    }

    func injectDrain() { inject(.drain) }
    func injectWake() { inject(.wake) }

    private func inject(_ marker: InboundChunk) {
        guard let context else { return }
        context.fireChannelRead(wrapInboundOut(marker))
        // The async channel hands reads over at read-complete.
        context.fireChannelReadComplete()
    }
}

/// Closes a connection whose client has said nothing for the listener's idle timeout, after
/// telling it why (RFC 5321 §4.5.3.2 `421`, IMAP `* BYE`, POP3 `-ERR`).
final class IdleTimeoutCloser: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let reply: String
    init(reply: String) { self.reply = reply }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            let buffer = context.channel.allocator.buffer(string: reply)
            context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
