import Foundation
import Logging
import NIOCore

/// One SMTP session with a next hop: opened once (greeting, EHLO or HELO, STARTTLS, AUTH), then
/// one or more mail transactions — several when the connection cache hands it to the next
/// message for the same address (RFC 5321 §3.3: after a transaction the session is ready for
/// the next MAIL; RSET first checks that the server is still there).
final class SMTPClientSession: @unchecked Sendable {
    // Sendable by hand-over: one task uses a session at a time; the cache only stores it.

    enum Opened {
        case ready(SMTPClientSession)
        /// Nothing was decided here: try the next address or host.
        case tryNext(String)
    }

    enum Result {
        case outcomes([String: RecipientOutcome])
        case tryNext(String)
    }

    let connection: SMTPClientConnection
    let hop: Router.Hop
    let address: String
    let settings: SMTPClient.Settings
    private(set) var extensions: [String: String] = [:]
    private(set) var encrypted = false
    /// False once the server said 421, a reply was unexpected, or the session was quit.
    private(set) var reusable = true
    private(set) var transactions = 0
    let openedAt = ContinuousClock.now
    var logger: Logger

    private init(connection: SMTPClientConnection, hop: Router.Hop, address: String, settings: SMTPClient.Settings,
                 logger: Logger) {
        self.connection = connection
        self.hop = hop
        self.address = address
        self.settings = settings
        self.logger = logger
    }

    /// The cache key (see SMTPConnectionCache.Endpoint).
    var endpoint: SMTPConnectionCache.Endpoint { .init(hop, address: address) }

    /// Connects and opens a session: the greeting, EHLO (HELO when EHLO is refused), STARTTLS
    /// per the hop's policy, and AUTH PLAIN when the hop has credentials.
    static func open(hop: Router.Hop, address: String, settings: SMTPClient.Settings, group: any EventLoopGroup,
                     logger: Logger) async throws -> Opened {
        let connection = try await SMTPClientConnection.connect(
            address: address, port: hop.port, timeout: settings.connectTimeout, group: group)
        let session = SMTPClientSession(connection: connection, hop: hop, address: address, settings: settings, logger: logger)
        do {
            let result = try await session.start()
            if case .tryNext = result { session.quit() }
            return result
        } catch {
            connection.close()
            throw error
        }
    }

    private func start() async throws -> Opened {
        let greeting = try await connection.reply(timeout: settings.greetingTimeout)
        guard greeting.code == 220 else { return .tryNext("greeting: \(greeting)") }
        guard let offered = try await hello() else { return .tryNext("EHLO and HELO refused") }
        extensions = offered
        if hop.tls != .none, extensions.keys.contains("STARTTLS") {
            try await connection.write("STARTTLS\r\n")
            let reply = try await connection.reply(timeout: settings.commandTimeout)
            if reply.code == 220 {
                try await connection.startTLS(serverName: hop.host)
                encrypted = true
                guard let again = try await hello() else { return .tryNext("EHLO refused after STARTTLS") }
                extensions = again
            } else if hop.tls == .encrypt {
                return .tryNext("STARTTLS refused: \(reply)")
            }
        }
        if hop.tls == .encrypt && !encrypted { return .tryNext("TLS is required, and the server does not offer STARTTLS") }
        if let username = hop.username, let password = hop.password {
            // Credentials only over TLS or to a loopback address.
            guard encrypted || address.hasPrefix("127.") || address == "::1" else {
                return .tryNext("not sending credentials without TLS")
            }
            let token = Data("\u{0}\(username)\u{0}\(password)".utf8).base64EncodedString()
            try await connection.write("AUTH PLAIN \(token)\r\n")
            let reply = try await connection.reply(timeout: settings.commandTimeout)
            // RFC 4954 says 235; any 2xx is taken as success (some relays answer 250).
            guard (200..<300).contains(reply.code) else { return .tryNext("authentication failed: \(reply)") }
        }
        return .ready(self)
    }

    /// Before a cached session's next transaction: RSET (RFC 5321 §4.1.1.5), which clears what
    /// a transaction with no accepted recipient left and shows the server is still there.
    func reset() async -> Bool {
        do {
            try await connection.write("RSET\r\n")
            return try await connection.reply(timeout: settings.commandTimeout).code == 250
        } catch {
            return false
        }
    }

    /// One mail transaction: MAIL, every RCPT (pipelined when offered), DATA.
    func send(_ envelope: OutboundEnvelope, message: [UInt8]) async throws -> Result {
        transactions += 1
        if let problem = incompatibility(envelope, size: message.count) {
            return .outcomes(all(envelope, .failed(problem)))
        }
        var mail = "MAIL FROM:<\(envelope.sender)>"
        if extensions.keys.contains("SIZE") { mail += " SIZE=\(message.count)" }
        if envelope.body8bit && extensions.keys.contains("8BITMIME") { mail += " BODY=8BITMIME" }
        if envelope.smtputf8 { mail += " SMTPUTF8" }
        var commands = [mail] + envelope.recipients.map { "RCPT TO:<\($0)>" }
        var replies: [SMTPClientReply] = []
        if extensions.keys.contains("PIPELINING") {
            // RFC 2920: MAIL and every RCPT in one write, replies in order.
            try await connection.write(commands.map { $0 + "\r\n" }.joined())
            for _ in commands { replies.append(try await reply(settings.commandTimeout)) }
        } else {
            while !commands.isEmpty {
                try await connection.write(commands.removeFirst() + "\r\n")
                let reply = try await reply(settings.commandTimeout)
                replies.append(reply)
                if replies.count == 1 && !reply.isPositive { break }
            }
        }
        let mailReply = replies[0]
        if mailReply.isTransient { return .tryNext("MAIL: \(mailReply)") }
        if mailReply.isPermanent { return .outcomes(all(envelope, .failed("MAIL: \(mailReply)"))) }
        var outcomes: [String: RecipientOutcome] = [:]
        var accepted: [String] = []
        for (recipient, reply) in zip(envelope.recipients, replies.dropFirst()) {
            switch reply.code {
            case 200..<300: accepted.append(recipient)
            case 400..<500: outcomes[recipient] = .deferred("RCPT: \(reply)")
            default: outcomes[recipient] = .failed("RCPT: \(reply)")
            }
        }
        guard !accepted.isEmpty else { return .outcomes(outcomes) }
        try await connection.write("DATA\r\n")
        let dataReply = try await reply(settings.dataInitiationTimeout)
        let final: SMTPClientReply
        if dataReply.code == 354 {
            try await connection.write(Self.dotStuffed(message))
            final = try await reply(settings.dataTerminationTimeout)
        } else {
            final = dataReply
        }
        for recipient in accepted {
            switch final.code {
            case 200..<300: outcomes[recipient] = .delivered(final.description)
            case 400..<500: outcomes[recipient] = .deferred("DATA: \(final)")
            default: outcomes[recipient] = .failed("DATA: \(final)")
            }
        }
        if final.isPositive { logger.info("delivered", metadata: ["recipients": "\(accepted.count)", "reply": "\(final)"]) }
        return .outcomes(outcomes)
    }

    /// A reply; 421 (the server is closing, RFC 5321 §3.8) ends the session's reuse.
    private func reply(_ timeout: TimeAmount) async throws -> SMTPClientReply {
        let reply = try await connection.reply(timeout: timeout)
        if reply.code == 421 { reusable = false }
        return reply
    }

    /// QUIT and close (the reply is not waited for).
    func quit() {
        reusable = false
        let connection = self.connection
        Task {
            try? await connection.write("QUIT\r\n")
            connection.close()
        }
    }

    func close() {
        reusable = false
        connection.close()
    }

    /// EHLO, or HELO when EHLO is refused: the extensions (keyword → parameters), nil when
    /// both are refused.
    private func hello() async throws -> [String: String]? {
        try await connection.write("EHLO \(settings.heloName)\r\n")
        let reply = try await connection.reply(timeout: settings.commandTimeout)
        if reply.code == 250 {
            var extensions: [String: String] = [:]
            for line in reply.lines.dropFirst() {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard let keyword = parts.first else { continue }
                extensions[keyword.uppercased()] = parts.count > 1 ? String(parts[1]) : ""
            }
            return extensions
        }
        try await connection.write("HELO \(settings.heloName)\r\n")
        let helo = try await connection.reply(timeout: settings.commandTimeout)
        return helo.code == 250 ? [:] : nil
    }

    /// Why this peer cannot take the message at all: too big for its SIZE (RFC 1870), 8-bit
    /// data for a peer without 8BITMIME (RFC 6152: not converted here, bounced), or an
    /// internationalised envelope for a peer without SMTPUTF8 (RFC 6531 §3.2).
    func incompatibility(_ envelope: OutboundEnvelope, size: Int) -> String? {
        if let limit = extensions["SIZE"].flatMap({ Int($0) }), limit > 0, size > limit {
            return "552 5.3.4 Message size \(size) exceeds the limit of \(limit) of \(hop.host)"
        }
        if envelope.body8bit && !extensions.keys.contains("8BITMIME") {
            return "554 5.6.3 \(hop.host) does not accept 8-bit data (no 8BITMIME), and the message needs it"
        }
        if envelope.smtputf8 && !extensions.keys.contains("SMTPUTF8") {
            return "553 5.6.7 \(hop.host) does not support SMTPUTF8, and the message needs it"
        }
        return nil
    }

    func all(_ envelope: OutboundEnvelope, _ outcome: RecipientOutcome) -> [String: RecipientOutcome] {
        Dictionary(uniqueKeysWithValues: envelope.recipients.map { ($0, outcome) })
    }

    /// RFC 5321 §4.5.2: a line starting with "." gets one more; the data ends with CRLF.CRLF.
    static func dotStuffed(_ message: [UInt8]) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(message.count + message.count / 64 + 5)
        // Whole lines are copied at once; only a line's first byte is looked at.
        var lineStart = 0
        while lineStart < message.count {
            let end = message[lineStart...].firstIndex(of: 10).map { $0 + 1 } ?? message.count
            if message[lineStart] == UInt8(ascii: ".") { out.writeInteger(UInt8(ascii: ".")) }
            out.writeBytes(message[lineStart..<end])
            lineStart = end
        }
        if let last = message.last, last != 10 { out.writeString("\r\n") }
        out.writeString(".\r\n")
        return out
    }
}
