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
        guard let mechanism = SASLMechanism(name: name), backend.logins.mechanisms.contains(mechanism) else {
            send(.tagged(tag, .no, .cannot, "Unsupported authentication mechanism"))
            return .goOn
        }
        // Every mechanism, SCRAM too, only over TLS or loopback (as LOGIN).
        if !plaintextAuthAllowed {
            send(.tagged(tag, .no, .privacyRequired, "Authentication needs TLS"))
            return .goOn
        }
        var initial: [UInt8]?
        if let initialResponse {
            guard let decoded = initialResponse == [UInt8(ascii: "=")] ? [] : Self.base64(initialResponse) else {
                bad(tag, "Invalid base64 in the initial response")
                return .goOn
            }
            initial = decoded
        }
        let result = await SASLConversation.run(mechanism, initialResponse: initial, logins: backend.logins,
                                                context: loginContext) { challenge in
            send(.continuation(Data(challenge).base64EncodedString()))
            await connection.flush()
            switch await connection.readLine(limit: SASLExchange.maximumResponse * 2) {
            case .end: return .closed
            case .drain, .tooLong, .wake: return .unreadable
            case .line(let bytes, _):
                if bytes == [UInt8(ascii: "*")] { return .cancelled }
                guard let decoded = Self.base64(bytes) else { return .unreadable }
                return .response(decoded)
            }
        }
        switch result {
        case .closed:
            return .close
        case .cancelled:
            bad(tag, "Authentication cancelled")
        case .unreadable:
            bad(tag, "Invalid SASL response")
        case .malformed(let why):
            logger.notice("authentication failed", metadata: ["mechanism": "\(mechanism.rawValue)", "reason": "\(why)"])
            send(.tagged(tag, .no, .authenticationFailed, "Authentication failed"))
            authenticationFailures += 1
        case .outcome(let outcome, let username):
            answer(tag, outcome, username: username)
        }
        return .goOn
    }

    var loginContext: LoginContext {
        LoginContext(service: "imap", clientAddress: connection.remoteAddress?.ipAddress)
    }

    func verify(_ tag: String, username: String, password: String) async {
        answer(tag, await backend.logins.login(username: username, password: password, context: loginContext), username: username)
    }

    /// The tagged answer to a checked login (RFC 5530 response codes).
    func answer(_ tag: String, _ outcome: LoginOutcome, username: String) {
        switch outcome {
        case .accepted(let user):
            login = IMAPLogin(accountID: user.accountID, address: user.address)
            framer.allowsMessageLiterals = true
            logger[metadataKey: "user"] = "\(user.address)"
            logger.info("logged in", metadata: ["backend": "\(user.backend.rawValue)"])
            ok(tag, "Logged in", .capability(capabilities))
        case .rejected(let reason):
            logger.notice("authentication failed", metadata: ["user": "\(username.prefix(100))", "reason": "\(reason)"])
            send(.tagged(tag, .no, .authenticationFailed, "Authentication failed"))
            authenticationFailures += 1
        case .temporaryFailure(let reason):
            logger.error("authentication backend unavailable", metadata: ["error": "\(reason)"])
            send(.tagged(tag, .no, .unavailable, "Authentication is temporarily unavailable"))
        case .throttled:
            send(.tagged(tag, .no, .unavailable, "Too many failed logins: try again later"))
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
