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
                send(multiline: "+OK", plaintextAuthAllowed ? ["PLAIN", "LOGIN"] : [])
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
        guard let mechanism = SASLMechanism(name: name) else {
            error("Unsupported authentication mechanism")
            return .goOn
        }
        guard !mechanism.isPlaintext || plaintextAuthAllowed else {
            error("Plaintext authentication disallowed on non-secure connections", code: "AUTH")
            return .goOn
        }
        var exchange = SASLExchange(mechanism: mechanism)
        var step: SASLExchange.Step
        if let initialResponse {
            guard let decoded = initialResponse == "=" ? [] : Data(base64Encoded: initialResponse).map(Array.init) else {
                error("Invalid base64")
                return .goOn
            }
            step = exchange.start(initialResponse: decoded)
        } else {
            step = exchange.start(initialResponse: nil)
        }
        while true {
            switch step {
            case .challenge(let challenge):
                send("+ " + Data(challenge).base64EncodedString())
                await connection.flush()
                switch await connection.readLine(limit: SASLExchange.maximumResponse * 2) {
                case .end: return .close
                case .drain, .tooLong, .wake:
                    error("Invalid SASL response")
                    return .goOn
                case .line(let bytes, _):
                    if bytes == [UInt8(ascii: "*")] {
                        error("Authentication cancelled")
                        return .goOn
                    }
                    guard let text = String(validating: bytes, as: UTF8.self), let decoded = Data(base64Encoded: text) else {
                        error("Invalid base64")
                        return .goOn
                    }
                    step = exchange.respond(Array(decoded))
                }
            case .malformed(let why):
                logger.notice("authentication failed", metadata: ["mechanism": "\(mechanism.rawValue)", "reason": "\(why)"])
                error("Authentication failed", code: "AUTH")
                return .goOn
            case .credentials(let credentials):
                await login(username: credentials.username, password: credentials.password)
                return .goOn
            }
        }
    }

    /// Checks the password, takes the maildrop lock, and snapshots INBOX.
    func login(username: String, password: String) async {
        do {
            guard let found = try await backend.authenticate(username: username, password: password) else {
                logger.notice("authentication failed", metadata: ["user": "\(username)"])
                error("Authentication failed", code: "AUTH")
                return
            }
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
            logger.info("logged in", metadata: ["messages": "\(maildrop?.messages.count ?? 0)"])
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
