import Foundation
import MailAuth
import MailStore

extension POP3Session {
    /// Commands of the AUTHORIZATION state: USER/PASS, AUTH, STLS.
    func authorization(_ command: POP3Command) async -> Next {
        switch command {
        case .stls:
            return await startTLS()
        case .user(let name):
            guard plaintextAuthAllowed else {
                error("Plaintext authentication disallowed on non-secure connections: use STLS or port 995", code: "AUTH")
                return .goOn
            }
            pendingUser = name
            send("+OK")
        case .pass(let password):
            guard let user = pendingUser else {
                error("USER first")
                return .goOn
            }
            pendingUser = nil
            guard plaintextAuthAllowed else {
                error("Plaintext authentication disallowed on non-secure connections", code: "AUTH")
                return .goOn
            }
            await login(username: user, password: password)
        case .auth(let mechanism, let initial):
            guard let mechanism else {
                send(multiline: "+OK", plaintextAuthAllowed ? backend.logins.mechanisms.map(\.rawValue) : [])
                return .goOn
            }
            return await authenticate(mechanism: mechanism, initialResponse: initial)
        default:
            error("Not in the TRANSACTION state: log in first")
        }
        return .goOn
    }

    /// RFC 2595 §4: after `+OK` the connection turns to TLS; what was pipelined is dropped.
    func startTLS() async -> Next {
        guard startTLSAvailable, let tls = configuration.tls else {
            error(connection.isTLS ? "TLS is already active" : "STLS is not available here")
            return .goOn
        }
        send("+OK Begin TLS negotiation")   // startTLS sends it
        do {
            try await connection.startTLS(context: tls.current)
        } catch {
            logger.notice("STLS failed", metadata: ["error": "\(error)"])
            return .close
        }
        pendingUser = nil
        return .goOn
    }

    /// RFC 5034 AUTH with the SASL mechanisms of MailAuth; `+ ` challenges, `*` cancels.
    func authenticate(mechanism name: String, initialResponse: String?) async -> Next {
        guard let mechanism = SASLMechanism(name: name), backend.logins.mechanisms.contains(mechanism) else {
            error("Unsupported authentication mechanism")
            return .goOn
        }
        // Every mechanism, SCRAM too, only over TLS or loopback (as USER/PASS).
        guard plaintextAuthAllowed else {
            error("Authentication disallowed on non-secure connections", code: "AUTH")
            return .goOn
        }
        var initial: [UInt8]?
        if let initialResponse {
            guard let decoded = initialResponse == "=" ? [] : Data(base64Encoded: initialResponse).map(Array.init) else {
                error("Invalid base64")
                return .goOn
            }
            initial = decoded
        }
        let result = await SASLConversation.run(mechanism, initialResponse: initial, logins: backend.logins,
                                                context: loginContext) { challenge in
            send("+ " + Data(challenge).base64EncodedString())
            await connection.flush()
            switch await connection.readLine(limit: SASLExchange.maximumResponse * 2) {
            case .end: return .closed
            case .drain, .tooLong, .wake: return .unreadable
            case .line(let bytes, _):
                if bytes == [UInt8(ascii: "*")] { return .cancelled }
                guard let text = String(validating: bytes, as: UTF8.self), let decoded = Data(base64Encoded: text) else {
                    return .unreadable
                }
                return .response(Array(decoded))
            }
        }
        switch result {
        case .closed:
            return .close
        case .cancelled:
            error("Authentication cancelled")
        case .unreadable:
            error("Invalid base64")
        case .malformed(let why):
            logger.notice("authentication failed", metadata: ["mechanism": "\(mechanism.rawValue)", "reason": "\(why)"])
            error("Authentication failed", code: "AUTH")
        case .outcome(let outcome, let username):
            await open(outcome, username: username)
        }
        return .goOn
    }

    var loginContext: LoginContext {
        LoginContext(service: "pop3", clientAddress: connection.remoteAddress?.ipAddress)
    }

    /// USER/PASS.
    func login(username: String, password: String) async {
        await open(await backend.logins.login(username: username, password: password, context: loginContext), username: username)
    }

    /// After a checked login: takes the maildrop lock and snapshots INBOX (RFC 3206 codes).
    func open(_ outcome: LoginOutcome, username: String) async {
        let found: AuthenticatedUser
        switch outcome {
        case .accepted(let user):
            found = user
        case .rejected(let reason):
            logger.notice("authentication failed", metadata: ["user": "\(username.prefix(100))", "reason": "\(reason)"])
            error("Authentication failed", code: "AUTH")
            return
        case .temporaryFailure(let reason):
            logger.error("login failed: authentication unavailable", metadata: ["error": "\(reason)"])
            error("Temporary failure, try again later", code: "SYS/TEMP")
            return
        case .throttled:
            error("Too many failed logins: try again later", code: "SYS/TEMP")
            return
        }
        do {
            guard let lock = try await backend.lock(found.accountID) else {
                error("Maildrop is locked by another session", code: "IN-USE")
                return
            }
            do {
                maildrop = try await backend.maildrop(found.accountID)
            } catch {
                await lock.release()
                throw error
            }
            self.lock = lock
            account = (found.accountID, found.address)
            logger[metadataKey: "user"] = "\(found.address)"
            logger.info("logged in", metadata: ["messages": "\(maildrop?.messages.count ?? 0)", "backend": "\(found.backend.rawValue)"])
            send("+OK Logged in")
        } catch let error as StoreError where error.kind == .invalid || error.kind == .notFound {
            // RFC 3206: a problem that retrying will not cure.
            logger.error("login failed: maildrop cannot be opened", metadata: ["error": "\(error)"])
            self.error("The maildrop cannot be opened", code: "SYS/PERM")
        } catch {
            logger.error("login failed: store unavailable", metadata: ["error": "\(error)"])
            self.error("Temporary failure, try again later", code: "SYS/TEMP")
        }
    }
}
