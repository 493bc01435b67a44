import Foundation
import MailAuth

extension SMTPSession {
    /// RFC 3207. After `220` the connection turns to TLS and the session starts over: no
    /// hello, no login, no transaction, and whatever the client pipelined is thrown away.
    func startTLS() async -> Next {
        guard startTLSAvailable, let tls = configuration.tls else {
            reply(connection.isTLS ? SMTPReply(503, "5.5.1", "Error: TLS already active")
                                   : SMTPReply(502, "5.5.1", "Error: STARTTLS not available here"))
            return .goOn
        }
        connection.send(SMTPReply(220, "2.0.0", "Ready to start TLS").rendered)   // startTLS sends it
        do {
            try await connection.startTLS(context: tls.current)
        } catch {
            logger.notice("STARTTLS failed", metadata: ["error": "\(error)"])
            return .close
        }
        heloName = nil
        esmtp = false
        login = nil
        transaction = nil
        return .goOn
    }

    /// RFC 4954 AUTH with the SASL mechanisms of MailAuth (PLAIN, LOGIN, SCRAM-SHA-256).
    func authenticate(mechanism name: String, initialResponse: String?) async -> Next {
        guard heloName != nil, esmtp else { reply(SMTPReply(503, "5.5.1", "Error: send EHLO first")); return .goOn }
        guard authEnabledHere else { reply(SMTPReply(503, "5.5.1", "Error: authentication not enabled")); return .goOn }
        guard login == nil else { reply(SMTPReply(503, "5.5.1", "Error: already authenticated")); return .goOn }
        guard transaction == nil else { reply(SMTPReply(503, "5.5.1", "Error: MAIL transaction in progress")); return .goOn }
        guard let mechanism = SASLMechanism(name: name), backend.logins.mechanisms.contains(mechanism) else {
            reply(SMTPReply(504, "5.5.4", "Unrecognized authentication type"))
            return .goOn
        }
        // Every mechanism, SCRAM too, only over TLS or loopback: submission requires STARTTLS before AUTH.
        if !plaintextAuthAllowed {
            reply(startTLSAvailable ? .tlsRequired : .encryptionRequired)
            return .goOn
        }
        var initial: [UInt8]?
        if let initialResponse {
            // RFC 4954 §4: "=" is an empty initial response.
            guard let decoded = initialResponse == "=" ? [] : Self.base64(initialResponse) else {
                reply(SMTPReply(501, "5.5.2", "Cannot decode response"))
                return .goOn
            }
            initial = decoded
        }
        let context = LoginContext(service: "smtp", clientAddress: connection.remoteAddress?.ipAddress)
        let result = await SASLConversation.run(mechanism, initialResponse: initial, logins: backend.logins, context: context) { challenge in
            connection.send("334 " + Data(challenge).base64EncodedString() + "\r\n")
            await connection.flush()
            switch await connection.readLine(limit: configuration.maximumCommandLine) {
            case .end: return .closed
            case .drain, .tooLong, .wake: return .unreadable
            case .line(let bytes, _):
                if bytes == Array("*".utf8) { return .cancelled }
                guard let text = String(validating: bytes, as: UTF8.self), let decoded = Self.base64(text) else { return .unreadable }
                return .response(decoded)
            }
        }
        switch result {
        case .closed:
            return .close
        case .cancelled:
            reply(.authAborted)
        case .unreadable:
            reply(SMTPReply(501, "5.5.2", "Cannot decode response"))
        case .malformed(let why):
            logger.notice("authentication failed", metadata: ["mechanism": "\(mechanism.rawValue)", "reason": "\(why)"])
            reply(.authInvalid)
        case .outcome(let outcome, let username):
            switch outcome {
            case .accepted(let user):
                login = SMTPLogin(accountID: user.accountID, address: user.address)
                logger[metadataKey: "login"] = "\(user.address)"
                logger.info("authenticated", metadata: ["mechanism": "\(mechanism.rawValue)", "backend": "\(user.backend.rawValue)"])
                reply(.authSucceeded)
            case .rejected(let reason):
                logger.notice("authentication failed", metadata: ["mechanism": "\(mechanism.rawValue)",
                                                                  "username": "\(username.prefix(100))", "reason": "\(reason)"])
                reply(.authInvalid)
            case .temporaryFailure(let reason):
                logger.error("authentication backend failed", metadata: ["error": "\(reason)"])
                reply(.authTemporary)
            case .throttled:
                reply(SMTPReply(454, "4.7.0", "Too many failed logins: try again later"))
            }
        }
        return .goOn
    }

    static func base64(_ text: String) -> [UInt8]? {
        guard text.utf8.count <= 4 * (SASLExchange.maximumResponse + 2) / 3 + 4 else { return nil }
        return Data(base64Encoded: text).map(Array.init)
    }
}
