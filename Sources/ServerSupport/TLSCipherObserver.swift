import NIOConcurrencyHelpers
import NIOCore

/// Learns the negotiated TLS cipher suite by reading the ServerHello this server sends, which
/// is plaintext in every TLS version (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3): swift-nio-ssl has no
/// public way to ask for it, and `Received:` names it (RFC 5321 §4.4, as Postfix does). Sits
/// on the socket side of the TLS handler, looks at the first outbound bytes only (at most
/// 16 KiB, then it stops), and never changes them.
final class TLSCipherObserver: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The suite's IANA name once the ServerHello went out.
    let cipher = NIOLockedValueBox<String?>(nil)
    private var seen: [UInt8] = []
    private var done = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !done {
            let buffer = unwrapOutboundIn(data)
            seen.append(contentsOf: buffer.readableBytesView.prefix(16 * 1024 - seen.count))
            switch Self.serverHelloCipher(seen) {
            case .found(let code):
                cipher.withLockedValue { $0 = Self.name(code) }
                done = true
                seen = []
            case .notHello:
                done = true
                seen = []
            case .needMore:
                if seen.count >= 16 * 1024 {
                    done = true
                    seen = []
                }
            }
        }
        context.write(data, promise: promise)
    }

    enum Parse: Equatable { case found(UInt16), needMore, notHello }

    /// The cipher_suite of a ServerHello at the start of `bytes` (TLS records as sent).
    static func serverHelloCipher(_ bytes: [UInt8]) -> Parse {
        // Record: type 22 (handshake), version (2), length (2); then the handshake message:
        // type 2 (server_hello), length (3), legacy_version (2), random (32), session_id.
        guard bytes.count >= 1 else { return .needMore }
        guard bytes[0] == 22 else { return .notHello }
        guard bytes.count >= 6 else { return .needMore }
        guard bytes[5] == 2 else { return .notHello }
        let sessionIDLength = 5 + 4 + 2 + 32
        guard bytes.count > sessionIDLength else { return .needMore }
        let cipherAt = sessionIDLength + 1 + Int(bytes[sessionIDLength])
        guard bytes.count >= cipherAt + 2 else { return .needMore }
        return .found(UInt16(bytes[cipherAt]) << 8 | UInt16(bytes[cipherAt + 1]))
    }

    static func name(_ code: UInt16) -> String {
        switch code {
        case 0x1301: return "TLS_AES_128_GCM_SHA256"
        case 0x1302: return "TLS_AES_256_GCM_SHA384"
        case 0x1303: return "TLS_CHACHA20_POLY1305_SHA256"
        case 0xC02B: return "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
        case 0xC02C: return "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"
        case 0xC02F: return "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
        case 0xC030: return "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"
        case 0xCCA8: return "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
        case 0xCCA9: return "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
        case 0xC013: return "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"
        case 0xC014: return "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"
        case 0x009C: return "TLS_RSA_WITH_AES_128_GCM_SHA256"
        case 0x009D: return "TLS_RSA_WITH_AES_256_GCM_SHA384"
        default:
            let hex = String(code, radix: 16, uppercase: true)
            return "0x" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
    }
}
