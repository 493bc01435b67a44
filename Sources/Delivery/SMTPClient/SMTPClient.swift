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
        /// This node's own SMTP listeners: a hop there is skipped, and a route of nothing else
        /// bounces (a mail loop).
        public var ownEndpoints = OwnEndpoints()

        public init(heloName: String) {
            self.heloName = heloName
        }
    }

    public let settings: Settings
    let group: any EventLoopGroup
    let logger: Logger
    /// Sessions kept between messages (nil: a connection per message).
    let cache: SMTPConnectionCache?

    public init(settings: Settings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger,
                reuseConnections: Bool = true) {
        self.settings = settings
        self.group = group
        self.logger = logger
        self.cache = reuseConnections ? SMTPConnectionCache() : nil
    }

    /// Delivers `message` (CR LF lines, not yet dot-stuffed) for `envelope` through the first
    /// hop that takes it, on a cached session to an address when there is one. Recipients a
    /// server deferred (4xx to RCPT or to the data) are offered to the next address and host in
    /// the same attempt, as Postfix does: a backup MX may take them now. Every recipient gets
    /// an outcome: the last server's word on it, or the last connection problem.
    public func deliver(_ envelope: OutboundEnvelope, message: [UInt8], hops: [Router.Hop]) async -> [String: RecipientOutcome] {
        var lastError = "no next hop"
        var looping: [String] = []
        var tried = false
        var pending = envelope
        var outcomes: [String: RecipientOutcome] = [:]
        /// Takes a transaction's outcomes; true when nothing is left to place.
        func settle(_ got: [String: RecipientOutcome]) -> Bool {
            outcomes.merge(got) { $1 }
            pending.recipients = pending.recipients.filter {
                if case .deferred = got[$0] ?? .deferred("") { return true }
                return false
            }
            return pending.recipients.isEmpty
        }
        for hop in hops {
            for address in hop.addresses {
                if settings.ownEndpoints.contains(address: address, port: hop.port) {
                    looping.append("\(hop.host)[\(address)]:\(hop.port)")
                    continue
                }
                tried = true
                var log = logger
                log[metadataKey: "queue_id"] = "\(envelope.queueID)"
                log[metadataKey: "relay"] = "\(hop.host)[\(address)]:\(hop.port)"
                let endpoint = SMTPConnectionCache.Endpoint(hop, address: address)
                var placed = false
                if let cached = await cache?.take(endpoint) {
                    if await cached.reset() {
                        cached.logger = log
                        log.debug("reusing the connection", metadata: ["transactions": "\(cached.transactions)"])
                        if case .outcomes(let got) = await run(pending, message: message, on: cached, lastError: &lastError) {
                            if settle(got) { return outcomes }
                            placed = true
                        }
                    } else {
                        cached.close()   // gone while idle: open a new one below
                    }
                }
                if !placed {
                    do {
                        switch try await SMTPClientSession.open(hop: hop, address: address, settings: settings, group: group,
                                                                logger: log) {
                        case .ready(let session):
                            if case .outcomes(let got) = await run(pending, message: message, on: session, lastError: &lastError) {
                                if settle(got) { return outcomes }
                            }
                        case .tryNext(let reason):
                            lastError = "\(hop.host)[\(address)]: \(reason)"
                        }
                    } catch {
                        lastError = "\(hop.host)[\(address)]:\(hop.port): \(error)"
                    }
                }
                log.info("next hop failed", metadata: ["error": "\(lastError)", "left": "\(pending.recipients.count)"])
            }
        }
        if !tried && !looping.isEmpty {
            // Every next hop is this node (a misconfigured MX or transport): it would only loop.
            let reason = "554 5.4.6 mail loops back to myself: \(looping.joined(separator: ", ")) is this node"
            return Dictionary(uniqueKeysWithValues: envelope.recipients.map { ($0, .failed(reason)) })
        }
        for recipient in pending.recipients where outcomes[recipient] == nil { outcomes[recipient] = .deferred(lastError) }
        return outcomes
    }

    /// One transaction on `session`, which then goes back to the cache (or is quit); nil
    /// outcomes mean: try the next address.
    private func run(_ envelope: OutboundEnvelope, message: [UInt8], on session: SMTPClientSession,
                     lastError: inout String) async -> SMTPClientSession.Result {
        let name = "\(session.hop.host)[\(session.address)]"
        do {
            let result = try await session.send(envelope, message: message)
            if let cache { await cache.put(session) } else { session.quit() }
            if case .tryNext(let reason) = result { lastError = "\(name): \(reason)" }
            return result
        } catch {
            session.close()
            lastError = "\(name):\(session.hop.port): \(error)"
            return .tryNext(lastError)
        }
    }

    /// Quits the cached sessions (the worker is stopping).
    public func closeConnections() async {
        await cache?.closeAll()
    }
}
