import Foundation
import Logging
import MailCore
import MailStore
import ServerSupport

/// One IMAP connection (RFC 3501 §3): not authenticated → authenticated → selected → logout.
/// Lines and literals are assembled by `IMAPCommandFramer`, parsed by `IMAPCommandParser`,
/// handled in order, and answered with `IMAPResponse`s through `IMAPEncoder`. The store is
/// reached only through `IMAPBackend`; nothing here speaks SQL.
public final class IMAPSession {
    let connection: ClientConnection
    let configuration: IMAPConfiguration
    let backend: any IMAPBackend
    var logger: Logger

    var login: IMAPLogin?
    var selected: SelectedMailbox?
    /// ENABLE UTF8=ACCEPT (RFC 6855): mailbox names travel as UTF-8.
    var utf8Accepted = false
    var errors = 0
    /// Failed logins on this connection; after `maximumAuthenticationFailures` it is closed.
    var authenticationFailures = 0
    var framer: IMAPCommandFramer

    public init(connection: ClientConnection, configuration: IMAPConfiguration, backend: any IMAPBackend, logger: Logger) {
        self.connection = connection
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
        self.framer = IMAPCommandFramer(limits: configuration.framing)
        self.logger[metadataKey: "listener"] = "\(connection.listener.name)"
        self.logger[metadataKey: "client"] = "\(connection.remoteIP)"
    }

    /// Whether plaintext passwords may be sent now: over TLS, or from the loopback interface.
    var plaintextAuthAllowed: Bool { connection.isTLS || (connection.isLoopback && configuration.plaintextAuthOnLoopback) }
    var startTLSAvailable: Bool { connection.listener.tls == .starttls && !connection.isTLS && configuration.tls != nil }

    public func run() async {
        logger.debug("connect")
        send(.untagged(.ok, .capability(capabilities), "\(configuration.hostname) Petrel IMAP4rev1 ready"))
        while true {
            await connection.flush(onlyIfIdle: true)
            if connection.drainRequested {
                await closing(.untagged(.bye, .unavailable, "Server shutting down"))
                return
            }
            if errors >= configuration.maximumErrors {
                await closing(.untagged(.bye, nil, "Too many errors"))
                return
            }
            if authenticationFailures >= configuration.maximumAuthenticationFailures {
                await closing(.untagged(.bye, nil, "Too many failed logins"))
                return
            }
            guard let assembled = await readCommand() else { return }
            guard let bytes = assembled else { continue }
            let tagged: TaggedCommand
            do {
                tagged = try IMAPCommandParser.parse(bytes)
            } catch {
                bad(error.tag, error.message)
                continue
            }
            if await handle(tagged) == .close { return }
        }
    }

    /// Reads one command through the framer. nil: the connection is gone; `.some(nil)`: the
    /// command was refused (answered already) and the session goes on.
    func readCommand() async -> [UInt8]?? {
        while true {
            switch await connection.readLine(limit: configuration.framing.maximumText) {
            case .end: return nil
            case .drain: return .some(nil)
            case .wake: continue  // a late wake-up from an IDLE that is over
            case .tooLong:
                framer.reset()
                bad(nil, "Command line too long")
                return .some(nil)
            case .line(let line, _):
                switch framer.feed(line: line) {
                case .complete(let bytes):
                    return .some(bytes)
                case .refused(let tag, let reason, let discard):
                    if discard > 0, !(await skip(discard)) { return nil }
                    if reason == "literal too large", let tag {
                        send(.tagged(tag, .no, .tooBig, "Literal too large"))
                        errors += 1
                    } else {
                        bad(tag, reason.prefix(1).uppercased() + reason.dropFirst())
                    }
                    return .some(nil)
                case .needLiteral(let size, let synchronizing):
                    if synchronizing {
                        send(.continuation("Ready for literal data"))
                        await connection.flush()
                    }
                    guard let literal = await readBytes(size) else { return nil }
                    framer.feed(literal: literal)
                }
            }
        }
    }

    /// Exactly `count` bytes, within `literalTimeout`; nil when the connection ends.
    func readBytes(_ count: Int) async -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(min(count, 1 << 20))
        let complete = await connection.withDeadline(configuration.literalTimeout) {
            while out.count < count {
                guard await connection.waitForInput() else { return false }
                let take = min(count - out.count, connection.bufferedBytes.count)
                out.append(contentsOf: connection.bufferedBytes.prefix(take))
                connection.consume(take)
            }
            return true
        }
        return complete ? out : nil
    }

    /// Reads and drops `count` bytes (a refused LITERAL+ body, RFC 7888 §4).
    func skip(_ count: Int) async -> Bool {
        var left = count
        while left > 0 {
            guard await connection.waitForInput() else { return false }
            let take = min(left, connection.bufferedBytes.count)
            connection.consume(take)
            left -= take
        }
        return true
    }

    enum Next { case goOn, close }

    func handle(_ tagged: TaggedCommand) async -> Next {
        let tag = tagged.tag
        switch tagged.command {
        case .capability:
            send(.data(.capability(capabilities)))
            ok(tag, "CAPABILITY completed")
        case .noop, .check:
            if selected != nil { await pollUpdates(expungeAllowed: true) }
            ok(tag, tagged.command == .noop ? "NOOP completed" : "CHECK completed")
        case .logout:
            send(.untagged(.bye, nil, "\(configuration.hostname) logging out"))
            send(.tagged(tag, .ok, nil, "LOGOUT completed"))
            await connection.flush()
            await connection.close()
            return .close
        case .id:
            send(.data(.id([IDField("name", "Petrel"), IDField("vendor", "Petrel")])))
            ok(tag, "ID completed")
        case .starttls:
            return await startTLS(tag)
        case .login(let user, let password):
            await loginCommand(tag, user: user, password: password)
        case .authenticate(let mechanism, let initial):
            return await authenticate(tag, mechanism: mechanism, initialResponse: initial)
        case .idle:
            guard let login else {
                bad(tag, "Log in first")
                return .goOn
            }
            return await idle(tag, login)
        default:
            guard let login else {
                bad(tag, "Log in first")
                return .goOn
            }
            await authenticated(tag, tagged.command, login)
        }
        return .goOn
    }

    /// Commands of the authenticated and selected states.
    func authenticated(_ tag: String, _ command: IMAPCommand, _ login: IMAPLogin) async {
        do {
            switch command {
            case .enable(let capabilities): enable(tag, capabilities)
            case .namespace:
                send(.data(.namespace(prefix: "", delimiter: MailboxName.separator)))
                ok(tag, "NAMESPACE completed")
            case .list(let reference, let patterns, let options): try await list(tag, login, reference, patterns, options)
            case .lsub(let reference, let pattern): try await lsub(tag, login, reference, pattern)
            case .create(let name, let uses): try await create(tag, login, name, uses)
            case .delete(let name): try await delete(tag, login, name)
            case .rename(let from, let to): try await rename(tag, login, from, to)
            case .subscribe(let name): try await subscribe(tag, login, name, true)
            case .unsubscribe(let name): try await subscribe(tag, login, name, false)
            case .status(let name, let items): try await status(tag, login, name, items)
            case .append(let name, let flags, let date, let message): try await append(tag, login, name, flags, date, message)
            case .getQuotaRoot(let name): try await quotaRoot(tag, login, name)
            case .getQuota(let root): try await quota(tag, login, root)
            case .setQuota: send(.tagged(tag, .no, .noPerm, "Quotas are set by the administrator"))
            case .select(let name, _): try await select(tag, login, name, readOnly: false)
            case .examine(let name, _): try await select(tag, login, name, readOnly: true)
            default:
                guard let selected else {
                    bad(tag, "No mailbox selected")
                    return
                }
                try await inSelected(tag, command, login, selected)
            }
        } catch let error as StoreError {
            fail(tag, error)
        } catch {
            logger.error("command failed", metadata: ["error": "\(error)"])
            send(.tagged(tag, .no, .serverBug, "Internal error"))
        }
    }

    // MARK: Replies

    var capabilities: [String] {
        var caps = ["IMAP4rev1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE",
                    "CHILDREN", "SPECIAL-USE", "CREATE-SPECIAL-USE", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
                    "APPENDLIMIT=\(configuration.framing.maximumAppendLiteral)", "UTF8=ACCEPT", "IDLE"]
        if startTLSAvailable { caps.append("STARTTLS") }
        if login == nil {
            if plaintextAuthAllowed {
                caps += backend.logins.mechanisms.map { "AUTH=\($0.rawValue)" }
            } else {
                caps.append("LOGINDISABLED")
            }
        }
        return caps
    }

    func send(_ response: IMAPResponse) {
        connection.send(bytes: .init(bytes: IMAPEncoder.encode(response)))
    }

    func ok(_ tag: String, _ text: String, _ code: ResponseCode? = nil) {
        send(.tagged(tag, .ok, code, text))
    }

    /// `tag BAD` (untagged when the tag could not be read), counted toward the error limit.
    func bad(_ tag: String?, _ text: String) {
        errors += 1
        if let tag { send(.tagged(tag, .bad, nil, text)) } else { send(.untagged(.bad, nil, text)) }
    }

    /// A store error as the client should hear it (RFC 5530 codes).
    func fail(_ tag: String, _ error: StoreError) {
        switch error.kind {
        case .notFound: send(.tagged(tag, .no, .nonexistent, error.message))
        case .alreadyExists: send(.tagged(tag, .no, .alreadyExists, error.message))
        case .overQuota: send(.tagged(tag, .no, .overQuota, error.message))
        case .invalid, .conflict: send(.tagged(tag, .no, .cannot, error.message))
        case .unreachable, .temporary:
            logger.error("store unavailable", metadata: ["error": "\(error)"])
            send(.tagged(tag, .no, .unavailable, "Temporary failure, try again later"))
        default: send(.tagged(tag, .no, nil, error.message))
        }
    }

    func closing(_ last: IMAPResponse) async {
        send(last)
        await connection.flush()
        await connection.close()
    }
}
