import Foundation
import Logging
import MailStore
import ServerSupport

/// One SMTP conversation (RFC 5321), as a state machine over a `ClientConnection`: lines are
/// parsed into `SMTPCommand`s, each handled in order (pipelined commands too, RFC 2920), and
/// answered with `SMTPReply`s, which are flushed when the client has nothing more pending.
/// Recipient policy asks the `SMTPBackend`; nothing here speaks SQL.
public final class SMTPSession {
    let connection: ClientConnection
    let configuration: SMTPConfiguration
    let backend: any SMTPBackend
    let role: SMTPRole
    var logger: Logger

    /// The HELO/EHLO name; nil until the client has said hello (again, after STARTTLS).
    var heloName: String?
    var esmtp = false
    var login: SMTPLogin?
    var transaction: Transaction?
    var errors = 0
    /// Client access: checked once per connection at the first MAIL.
    var clientRule: AccessRule??

    /// One mail transaction: MAIL, RCPTs, then DATA or BDAT chunks.
    struct Transaction {
        var sender: SMTPPath
        var parameters: MailParameters
        var senderRuleOK = false
        var recipients: [Recipient] = []
        /// BDAT chunks so far (nil: no BDAT yet).
        var chunks: [UInt8]?
        var chunksOverflowed = false
    }

    struct Recipient {
        var address: String
        var accounts: [DeliveryAccount]
        /// Remote addresses: the recipient itself when relayed, or its forwarding targets.
        var remote: [String]
    }

    public init(connection: ClientConnection, configuration: SMTPConfiguration, backend: any SMTPBackend,
                role: SMTPRole, logger: Logger) {
        self.connection = connection
        self.configuration = configuration
        self.backend = backend
        self.role = role
        self.logger = logger
        self.logger[metadataKey: "listener"] = "\(connection.listener.name)"
        self.logger[metadataKey: "client"] = "\(connection.remoteIP)"
    }

    /// Whether plaintext passwords may be sent now: over TLS, or from the loopback interface.
    var plaintextAuthAllowed: Bool { connection.isTLS || (connection.isLoopback && configuration.plaintextAuthOnLoopback) }
    var authEnabledHere: Bool { role == .submission || configuration.authOnMX }
    var startTLSAvailable: Bool { connection.listener.tls == .starttls && !connection.isTLS && configuration.tls != nil }

    public func run() async {
        logger.debug("connect")
        reply(SMTPReply(220, nil, "\(configuration.hostname) ESMTP Petrel"))
        while true {
            await connection.flush(onlyIfIdle: true)
            if connection.drainRequested && transaction == nil {
                await closing(SMTPReply(421, "4.3.2", "\(configuration.hostname) Service shutting down, closing transmission channel"))
                return
            }
            if errors >= configuration.maximumErrors {
                await closing(SMTPReply(421, "4.7.0", "\(configuration.hostname) Error: too many errors"))
                return
            }
            switch await connection.readLine(limit: configuration.maximumCommandLine) {
            case .end:
                logger.debug("disconnect", metadata: ["in_transaction": "\(transaction != nil)"])
                return
            case .drain, .wake:
                continue
            case .tooLong:
                reply(.lineTooLong)
            case .line(let bytes, _):
                let command: SMTPCommand
                do {
                    command = try SMTPCommandParser.parse(bytes)
                } catch {
                    reply(error.reply)
                    continue
                }
                if await handle(command) == .close { return }
            }
        }
    }

    enum Next { case goOn, close }

    func handle(_ command: SMTPCommand) async -> Next {
        switch command {
        case .helo(let name):
            hello(name, extended: false)
        case .ehlo(let name):
            hello(name, extended: true)
        case .mail(let path, let parameters):
            await mail(path, parameters)
        case .rcpt(let path):
            await rcpt(path)
        case .data:
            return await data()
        case .bdat(let size, let last):
            return await bdat(size: size, last: last)
        case .rset:
            transaction = nil
            reply(.ok)
        case .noop:
            reply(.ok)
        case .quit:
            await closing(.bye)
            return .close
        case .help:
            reply(SMTPReply(214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY STARTTLS AUTH"))
        case .vrfy:
            // RFC 5321 §3.5.3: 252 says nothing about whether the user exists.
            reply(SMTPReply(252, "2.0.0", "Cannot VRFY user, but will accept message and attempt delivery"))
        case .expn:
            reply(SMTPReply(502, "5.5.1", "EXPN not available"))
        case .startTLS:
            return await startTLS()
        case .auth(let mechanism, let initial):
            return await authenticate(mechanism: mechanism, initialResponse: initial)
        }
        return .goOn
    }

    /// Queues a reply, counting errors toward the session's limit.
    func reply(_ reply: SMTPReply, countsAsError: Bool = true) {
        if reply.isError && countsAsError { errors += 1 }
        connection.send(reply.rendered)
    }

    /// Sends a last reply and closes.
    func closing(_ last: SMTPReply) async {
        connection.send(last.rendered)
        await connection.flush()
        await connection.close()
    }

    func hello(_ name: String, extended: Bool) {
        guard SMTPCommandParser.isDomain(Substring(name)) || SMTPCommandParser.isAddressLiteral(name) else {
            reply(SMTPReply(501, "5.5.2", "Syntax: \(extended ? "EHLO" : "HELO") hostname"))
            return
        }
        // RFC 5321 §4.1.4: a new hello resets any transaction in progress.
        transaction = nil
        heloName = name
        esmtp = extended
        guard extended else {
            reply(SMTPReply(250, nil, configuration.hostname))
            return
        }
        var lines = [configuration.hostname, "PIPELINING", "SIZE \(configuration.maximumMessageSize)", "8BITMIME",
                     "ENHANCEDSTATUSCODES"]
        if startTLSAvailable { lines.append("STARTTLS") }
        if authEnabledHere && plaintextAuthAllowed {
            let mechanisms = backend.logins.mechanisms.map(\.rawValue).joined(separator: " ")
            lines.append("AUTH " + mechanisms)
            lines.append("AUTH=" + mechanisms)
        }
        lines.append(contentsOf: ["SMTPUTF8", "CHUNKING"])
        reply(SMTPReply(250, nil, lines: lines))
    }
}
