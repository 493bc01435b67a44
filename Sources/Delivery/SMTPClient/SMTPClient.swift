import Foundation
import Logging
import NIOCore
import NIOPosix

/// What became of one recipient in a delivery attempt.
public enum RecipientOutcome: Sendable, Equatable {
    /// The next hop took it (its reply).
    case delivered(String)
    /// Try again later (why).
    case deferred(String)
    /// It cannot be delivered: bounce (the reply or reason, with its status code).
    case failed(String)
}

/// The envelope of one queued message.
public struct OutboundEnvelope: Sendable {
    public var queueID: String
    /// "" for the null sender.
    public var sender: String
    public var recipients: [String]
    public var body8bit: Bool
    public var smtputf8: Bool

    public init(queueID: String, sender: String, recipients: [String], body8bit: Bool, smtputf8: Bool) {
        self.queueID = queueID
        self.sender = sender
        self.recipients = recipients
        self.body8bit = body8bit
        self.smtputf8 = smtputf8
    }
}

/// The outbound SMTP client (RFC 5321): tries the hops of a route in order until one takes
/// the transaction, with EHLO (HELO fallback), STARTTLS per policy, AUTH PLAIN for relay hosts,
/// PIPELINING of MAIL and RCPT, SIZE / 8BITMIME / SMTPUTF8 checks, and the timeouts of RFC 5321
/// §4.5.3.2. A connection failure, a refused greeting or EHLO, a failed TLS handshake, or a
/// 4xx to MAIL moves on to the next address and host; once RCPT replies are in, every
/// recipient has its own outcome.
public struct SMTPClient: Sendable {
    public struct Settings: Sendable {
        /// The name in EHLO.
        public var heloName: String
        public var connectTimeout: TimeAmount = .seconds(30)
        /// §4.5.3.2: initial 220, MAIL, RCPT: 5 minutes; DATA: 2; end of data: 10.
        public var greetingTimeout: TimeAmount = .minutes(5)
        public var commandTimeout: TimeAmount = .minutes(5)
        public var dataInitiationTimeout: TimeAmount = .minutes(2)
        public var dataTerminationTimeout: TimeAmount = .minutes(10)

        public init(heloName: String) {
            self.heloName = heloName
        }
    }

    public let settings: Settings
    let group: any EventLoopGroup
    let logger: Logger

    public init(settings: Settings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.settings = settings
        self.group = group
        self.logger = logger
    }

    /// Delivers `message` (CR LF lines, not yet dot-stuffed) for `envelope` through the first
    /// hop that takes it. Every recipient gets an outcome.
    public func deliver(_ envelope: OutboundEnvelope, message: [UInt8], hops: [Router.Hop]) async -> [String: RecipientOutcome] {
        var lastError = "no next hop"
        for hop in hops {
            for address in hop.addresses {
                var log = logger
                log[metadataKey: "queue_id"] = "\(envelope.queueID)"
                log[metadataKey: "relay"] = "\(hop.host)[\(address)]:\(hop.port)"
                do {
                    let connection = try await SMTPClientConnection.connect(
                        address: address, port: hop.port, timeout: settings.connectTimeout, group: group)
                    defer { connection.close() }
                    let transaction = SMTPClientTransaction(connection: connection, hop: hop, address: address,
                                                            settings: settings, logger: log)
                    switch try await transaction.run(envelope, message: message) {
                    case .outcomes(let outcomes):
                        return outcomes
                    case .tryNext(let reason):
                        lastError = "\(hop.host)[\(address)]: \(reason)"
                    }
                } catch {
                    lastError = "\(hop.host)[\(address)]:\(hop.port): \(error)"
                }
                log.info("next hop failed", metadata: ["error": "\(lastError)"])
            }
        }
        return Dictionary(uniqueKeysWithValues: envelope.recipients.map { ($0, .deferred(lastError)) })
    }
}

/// One SMTP dialogue on an open connection.
struct SMTPClientTransaction {
    enum Result {
        case outcomes([String: RecipientOutcome])
        /// Nothing was decided here: try the next address or host.
        case tryNext(String)
    }

    let connection: SMTPClientConnection
    let hop: Router.Hop
    let address: String
    let settings: SMTPClient.Settings
    let logger: Logger

    func run(_ envelope: OutboundEnvelope, message: [UInt8]) async throws -> Result {
        let greeting = try await connection.reply(timeout: settings.greetingTimeout)
        guard greeting.code == 220 else { return .tryNext("greeting: \(greeting)") }
        guard var extensions = try await hello() else { return .tryNext("EHLO and HELO refused") }
        var encrypted = false
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
        if let problem = incompatibility(envelope, size: message.count, extensions: extensions) {
            return .outcomes(all(envelope, .failed(problem)))
        }
        var mail = "MAIL FROM:<\(envelope.sender)>"
        if extensions.keys.contains("SIZE") { mail += " SIZE=\(message.count)" }
        if envelope.body8bit && extensions.keys.contains("8BITMIME") { mail += " BODY=8BITMIME" }
        if envelope.smtputf8 { mail += " SMTPUTF8" }
        let pipelining = extensions.keys.contains("PIPELINING")
        var commands = [mail] + envelope.recipients.map { "RCPT TO:<\($0)>" }
        var replies: [SMTPClientReply] = []
        if pipelining {
            // RFC 2920: MAIL and every RCPT in one write, replies in order.
            try await connection.write(commands.map { $0 + "\r\n" }.joined())
            for _ in commands { replies.append(try await connection.reply(timeout: settings.commandTimeout)) }
        } else {
            while !commands.isEmpty {
                try await connection.write(commands.removeFirst() + "\r\n")
                let reply = try await connection.reply(timeout: settings.commandTimeout)
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
        guard !accepted.isEmpty else {
            try? await connection.write("QUIT\r\n")
            return .outcomes(outcomes)
        }
        try await connection.write("DATA\r\n")
        let dataReply = try await connection.reply(timeout: settings.dataInitiationTimeout)
        let final: SMTPClientReply
        if dataReply.code == 354 {
            try await connection.write(Self.dotStuffed(message))
            final = try await connection.reply(timeout: settings.dataTerminationTimeout)
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
        try? await connection.write("QUIT\r\n")
        return .outcomes(outcomes)
    }

    /// EHLO, or HELO when EHLO is refused: the extensions (keyword → parameters), nil when
    /// both are refused.
    func hello() async throws -> [String: String]? {
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
    func incompatibility(_ envelope: OutboundEnvelope, size: Int, extensions: [String: String]) -> String? {
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
