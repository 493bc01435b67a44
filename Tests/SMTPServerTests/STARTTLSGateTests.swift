import NIOCore
import NIOEmbedded
@testable import ServerSupport
import Testing

/// The STARTTLS race: a client may start its TLS handshake the moment it reads the go-ahead,
/// before the server has put the TLS handler in. Those bytes must reach the TLS handler, not
/// the plaintext reader (where they were thrown away, and the handshake hung).
@Suite struct STARTTLSGateTests {
    /// Stands in for the TLS handler: marks what passes through it.
    final class Marker: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias InboundOut = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            var out = context.channel.allocator.buffer(string: "via-tls:")
            out.writeBuffer(&bytes)
            context.fireChannelRead(wrapInboundOut(out))
        }
    }

    @Test func bytesAfterTheGoAheadGoThroughTheTLSHandler() throws {
        let channel = EmbeddedChannel()
        let gate = TLSUpgradeGate()
        try channel.pipeline.syncOperations.addHandler(gate)
        try channel.writeInbound(ByteBuffer(string: "EHLO x\r\n"))
        guard case .bytes(0, let plain)? = try channel.readInbound(as: InboundChunk.self) else {
            Issue.record("plaintext not passed on")
            return
        }
        #expect(String(buffer: plain) == "EHLO x\r\n")
        gate.hold()                                          // the go-ahead is on its way
        try channel.writeInbound(ByteBuffer(string: "\u{16}\u{03}\u{01}hello"))   // the ClientHello, early
        let early = try channel.readInbound(as: InboundChunk.self)
        #expect(early == nil)   // not read as plaintext
        #expect(gate.advanceEpoch() == 1)
        try channel.pipeline.syncOperations.addHandler(Marker(), position: .first)  // "TLS" is in
        gate.releaseHeld()
        guard case .bytes(1, let tls)? = try channel.readInbound(as: InboundChunk.self) else {
            Issue.record("held bytes not released through the TLS handler")
            return
        }
        #expect(String(buffer: tls) == "via-tls:\u{16}\u{03}\u{01}hello")
        // Holding is over: later bytes flow as before.
        try channel.writeInbound(ByteBuffer(string: "more"))
        guard case .bytes(1, let later)? = try channel.readInbound(as: InboundChunk.self) else {
            Issue.record("later bytes not passed on")
            return
        }
        #expect(String(buffer: later) == "via-tls:more")
        _ = try channel.finish()
    }
}
