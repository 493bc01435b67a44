import Foundation
import Logging
import MailAuth
import MailStore
import ServerSupport

/// One POP3 conversation (RFC 1939): AUTHORIZATION → TRANSACTION → UPDATE. The maildrop is
/// INBOX as it was at login, locked against other sessions on any node (`[IN-USE]`); DELE
/// marks, QUIT deletes in one transaction, and a dropped connection deletes nothing.
public final class POP3Session {
    let connection: ClientConnection
    let configuration: POP3Configuration
    let backend: any POP3Backend
    var logger: Logger

    var pendingUser: String?
    var account: (id: Int64, address: String)?
    var lock: MaildropLock?
    var maildrop: Maildrop?
    var deleted = Set<Int>()
    var errors = 0

    public init(connection: ClientConnection, configuration: POP3Configuration, backend: any POP3Backend, logger: Logger) {
        self.connection = connection
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
        self.logger[metadataKey: "listener"] = "\(connection.listener.name)"
        self.logger[metadataKey: "client"] = "\(connection.remoteIP)"
    }

    var plaintextAuthAllowed: Bool { connection.isTLS || (connection.isLoopback && configuration.plaintextAuthOnLoopback) }
    var startTLSAvailable: Bool { connection.listener.tls == .starttls && !connection.isTLS && configuration.tls != nil }

    public func run() async {
        send("+OK \(configuration.hostname) Petrel POP3 ready")
        defer { Task { [lock] in await lock?.release() } }
        while true {
            await connection.flush(onlyIfIdle: true)
            if connection.drainRequested {
                await closing("-ERR [SYS/TEMP] Server shutting down")
                return
            }
            if errors >= configuration.maximumErrors {
                await closing("-ERR Too many errors")
                return
            }
            switch await connection.readLine(limit: POP3CommandParser.maximumLine) {
            case .end:
                logger.debug("disconnect", metadata: ["deleted_pending": "\(deleted.count)"])
                return
            case .drain, .wake:
                continue
            case .tooLong:
                error("Line too long")
            case .line(let bytes, _):
                let command: POP3Command
                do {
                    command = try POP3CommandParser.parse(bytes)
                } catch {
                    self.error(error.message)
                    continue
                }
                if await handle(command) == .close { return }
            }
        }
    }

    enum Next { case goOn, close }

    func handle(_ command: POP3Command) async -> Next {
        switch command {
        case .capa:
            send(multiline: "+OK Capability list follows", capabilities)
            return .goOn
        case .noop where maildrop != nil:
            send("+OK")
            return .goOn
        case .quit:
            return await quit()
        default:
            break
        }
        if maildrop == nil {
            return await authorization(command)
        }
        await transaction(command)
        return .goOn
    }

    var capabilities: [String] {
        var lines = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"]
        if maildrop == nil {
            if plaintextAuthAllowed {
                lines += ["USER", "SASL " + backend.logins.mechanisms.map(\.rawValue).joined(separator: " ")]
            }
            if startTLSAvailable { lines.append("STLS") }
        }
        lines.append("IMPLEMENTATION Petrel")
        return lines
    }

    // MARK: Replies

    func send(_ line: String) {
        connection.send(line + "\r\n")
    }

    /// A multi-line reply of short protocol lines (never message text: see `sendMessage`).
    func send(multiline first: String, _ lines: [String]) {
        var text = first + "\r\n"
        for line in lines { text += (line.hasPrefix(".") ? "." : "") + line + "\r\n" }
        connection.send(text + ".\r\n")
    }

    /// `-ERR`, counted toward the session's error limit.
    func error(_ text: String, code: String? = nil) {
        errors += 1
        send("-ERR " + (code.map { "[\($0)] " } ?? "") + text)
    }

    func closing(_ last: String) async {
        send(last)
        await connection.flush()
        await connection.close()
    }

    /// QUIT: in TRANSACTION, the UPDATE state — the marked messages go in one transaction.
    func quit() async -> Next {
        if let account, let maildrop, !deleted.isEmpty {
            // Only under a lock still held: otherwise another session may own the maildrop now.
            guard await lock?.isValid() == true else {
                await closing("-ERR [SYS/TEMP] Maildrop lock lost, nothing deleted; try again")
                return .close
            }
            let uids = deleted.sorted().map { maildrop.messages[$0 - 1].uid }
            do {
                try await backend.delete(account.id, maildrop.mailboxID, uids: uids)
            } catch {
                logger.error("deleting at QUIT failed", metadata: ["error": "\(error)"])
                await closing("-ERR [SYS/TEMP] Some deleted messages not removed, try again later")
                return .close
            }
            logger.info("deleted at QUIT", metadata: ["messages": "\(uids.count)"])
        }
        // Released before the reply, so that a client's next session never meets its own lock.
        await lock?.release()
        lock = nil
        await closing("+OK \(configuration.hostname) signing off")
        return .close
    }
}
