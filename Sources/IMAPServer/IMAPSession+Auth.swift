import Foundation
import MailAuth

extension IMAPSession {
    /// RFC 3501 §6.2.1: after the tagged OK the connection turns to TLS; nothing the client
    /// pipelined before is acted on, and the client must ask for CAPABILITY again.
    func startTLS(_ tag: String) async -> Next {
        guard login == nil else {
            bad(tag, "STARTTLS is only valid before login")
            return .goOn
        }
        guard startTLSAvailable, let tls = configuration.tls else {
            bad(tag, connection.isTLS ? "TLS is already active" : "STARTTLS is not available here")
            return .goOn
        }
        ok(tag, "Begin TLS negotiation now")   // startTLS sends it
        framer.reset()
        do {
            try await connection.startTLS(context: tls.current)
        } catch {
            logger.notice("STARTTLS failed", metadata: ["error": "\(error)"])
            return .close
        }
        return .goOn
    }

    /// LOGIN (RFC 3501 §6.2.3); refused with PRIVACYREQUIRED without TLS off loopback
    /// (RFC 5530, RFC 8314).
    func loginCommand(_ tag: String, user: [UInt8], password: [UInt8]) async {
        guard login == nil else {
            bad(tag, "Already logged in")
            return
        }
        guard plaintextAuthAllowed else {
            send(.tagged(tag, .no, .privacyRequired, "Plaintext LOGIN needs TLS: use STARTTLS or port 993"))
            return
        }
        guard let username = String(validating: user, as: UTF8.self), let secret = String(validating: password, as: UTF8.self) else {
            send(.tagged(tag, .no, .authenticationFailed, "Authentication failed"))
            return
        }
        await verify(tag, username: username, password: secret)
    }

    /// AUTHENTICATE with the SASL mechanisms of MailAuth (RFC 3501 §6.2.2, SASL-IR RFC 4959).
    func authenticate(_ tag: String, mechanism name: String, initialResponse: [UInt8]?) async -> Next {
        guard login == nil else {
            bad(tag, "Already logged in")
            return .goOn
        }
        guard let mechanism = SASLMechanism(name: name) else {
            send(.tagged(tag, .no, .cannot, "Unsupported authentication mechanism"))
            return .goOn
        }
        if mechanism.isPlaintext && !plaintextAuthAllowed {
            send(.tagged(tag, .no, .privacyRequired, "Plaintext authentication needs TLS"))
            return .goOn
        }
        var exchange = SASLExchange(mechanism: mechanism)
        var step: SASLExchange.Step
        if let initialResponse {
            guard let decoded = initialResponse == [UInt8(ascii: "=")] ? [] : Self.base64(initialResponse) else {
                bad(tag, "Invalid base64 in the initial response")
                return .goOn
            }
            step = exchange.start(initialResponse: decoded)
        } else {
            step = exchange.start(initialResponse: nil)
        }
        while true {
            switch step {
            case .challenge(let challenge):
                send(.continuation(Data(challenge).base64EncodedString()))
                await connection.flush()
                switch await connection.readLine(limit: SASLExchange.maximumResponse * 2) {
                case .end: return .close
                case .drain, .tooLong, .wake:
                    bad(tag, "Invalid SASL response")
                    return .goOn
                case .line(let bytes, _):
                    if bytes == [UInt8(ascii: "*")] {
                        bad(tag, "Authentication cancelled")
                        return .goOn
                    }
                    guard let decoded = Self.base64(bytes) else {
                        bad(tag, "Invalid base64 in the SASL response")
                        return .goOn
                    }
                    step = exchange.respond(decoded)
                }
            case .malformed(let why):
                logger.notice("authentication failed", metadata: ["mechanism": "\(mechanism.rawValue)", "reason": "\(why)"])
                send(.tagged(tag, .no, .authenticationFailed, "Authentication failed"))
                authenticationFailures += 1
                return .goOn
            case .credentials(let credentials):
                await verify(tag, username: credentials.username, password: credentials.password)
                return .goOn
            }
        }
    }

    func verify(_ tag: String, username: String, password: String) async {
        do {
            guard let account = try await backend.authenticate(username: username, password: password) else {
                logger.notice("authentication failed", metadata: ["user": "\(username)"])
                send(.tagged(tag, .no, .authenticationFailed, "Authentication failed"))
                authenticationFailures += 1
                return
            }
            login = account
            framer.allowsMessageLiterals = true
            logger[metadataKey: "user"] = "\(account.address)"
            logger.info("logged in")
            ok(tag, "Logged in", .capability(capabilities))
        } catch {
            logger.error("authentication backend unavailable", metadata: ["error": "\(error)"])
            send(.tagged(tag, .no, .unavailable, "Authentication is temporarily unavailable"))
        }
    }

    /// ENABLE (RFC 5161): UTF8=ACCEPT is the one extension here that needs enabling.
    func enable(_ tag: String, _ capabilities: [String]) {
        var enabled: [String] = []
        if capabilities.contains("UTF8=ACCEPT") && !utf8Accepted {
            utf8Accepted = true
            enabled.append("UTF8=ACCEPT")
        }
        send(.data(.enabled(enabled)))
        ok(tag, "ENABLE completed")
    }

    static func base64(_ bytes: [UInt8]) -> [UInt8]? {
        guard let text = String(validating: bytes, as: UTF8.self), let data = Data(base64Encoded: text) else { return nil }
        return Array(data)
    }
}
