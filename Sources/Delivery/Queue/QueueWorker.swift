import Foundation
import Logging
import MailCore
import MailStore

/// A node's queue worker: claims due recipients from the shared queue (any node may hold
/// some: `SKIP LOCKED` and leases keep them apart), delivers each message's recipients domain
/// by domain through the router and the SMTP client, and records the outcome: delivered rows go,
/// deferred ones get their next attempt from the retry schedule, failed ones — a 5xx, or a
/// deferral past the maximum age — are reported to the sender in one DSN per message.
public struct QueueWorker: Sendable {
    public struct Settings: Sendable {
        /// Names this node's leases (unique per process).
        public var owner: String
        /// Recipients claimed per round.
        public var batchSize = 100
        /// Messages delivered at once.
        public var concurrency = 10
        /// Longer than any one attempt can take (its timeouts), so a live node keeps its rows.
        public var lease: Duration = .seconds(30 * 60)
        /// How often an idle worker looks for due mail.
        public var pollInterval: Duration = .seconds(5)
        /// Waits after the 1st, 2nd, … failed attempt; the last one repeats.
        public var retrySchedule: [Duration] = [.seconds(5 * 60), .seconds(10 * 60), .seconds(30 * 60),
                                                .seconds(60 * 60), .seconds(2 * 3600), .seconds(4 * 3600)]
        /// A message still undelivered this long after it arrived is bounced (Postfix's
        /// maximal_queue_lifetime, 5 days).
        public var maximumAge: Duration = .seconds(5 * 86400)
        /// Reporting-MTA of bounces.
        public var hostname: String
        /// Deliveries to one recipient domain at once, per node (Postfix's
        /// default_destination_concurrency_limit).
        public var destinationConcurrency = 20
        /// Least time between deliveries to one domain, per node; above zero, one at a time
        /// (Postfix's default_destination_rate_delay). Zero: no delay.
        public var destinationRateDelay: Duration = .zero
        /// When set, a sender whose message is still deferred this long after it arrived gets
        /// one delay warning (Postfix's delay_warning_time; off by default, as there).
        public var delayWarning: Duration?

        public init(owner: String, hostname: String) {
            self.owner = owner
            self.hostname = hostname
        }

        /// When to try again after `attempts` failed attempts (this one included).
        public func nextAttempt(after attempts: Int, now: Date = Date()) -> Date {
            guard !retrySchedule.isEmpty else { return now.addingTimeInterval(300) }
            let wait = retrySchedule[min(max(attempts, 1), retrySchedule.count) - 1]
            return now.addingTimeInterval(Double(wait.components.seconds))
        }
    }

    public let settings: Settings
    let queue: OutboundQueue
    let router: Router
    let client: SMTPClient
    let bounces: BounceSender
    let signer: OutboundSigner
    let limiter: DestinationLimiter
    let logger: Logger

    public init(settings: Settings, database: Database, router: Router, client: SMTPClient, bounces: BounceSender,
                logger: Logger) {
        self.settings = settings
        self.queue = OutboundQueue(database: database)
        self.router = router
        self.client = client
        self.bounces = bounces
        self.signer = OutboundSigner(database: database)
        self.limiter = DestinationLimiter(concurrency: settings.destinationConcurrency, rateDelay: settings.destinationRateDelay)
        self.logger = logger
    }

    /// Works until cancelled: rounds back to back while there is due mail, else a poll.
    public func run() async {
        while !Task.isCancelled {
            let worked: Int
            do {
                worked = try await runOnce()
            } catch {
                logger.warning("queue round failed", metadata: ["error": "\(error)"])
                worked = 0
            }
            if worked == 0 { try? await Task.sleep(for: settings.pollInterval) }
        }
        await client.closeConnections()
    }

    /// One round: claims due recipients and delivers them. Returns how many messages it handled.
    @discardableResult
    public func runOnce() async throws -> Int {
        // A delivery still waiting for a per-destination slot after half the lease is not begun:
        // its rows must not outlive the lease (another node would take them and send too).
        let startBy = Date().addingTimeInterval(Double(settings.lease.components.seconds) / 2)
        let messages = try await queue.claim(owner: settings.owner, limit: settings.batchSize, lease: settings.lease)
        guard !messages.isEmpty else { return 0 }
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for message in messages {
                if running >= settings.concurrency {
                    await group.next()
                    running -= 1
                }
                group.addTask { await deliver(message, startBy: startBy) }
                running += 1
            }
        }
        return messages.count
    }

    /// One message: every claimed recipient, grouped by domain; then the outcome recorded.
    func deliver(_ message: QueuedMessage, startBy: Date = .distantFuture) async {
        var log = logger
        log[metadataKey: "queue_id"] = "\(message.id)"
        let raw: [UInt8]
        do {
            raw = try await queue.raw(bodyID: message.bodyID)
        } catch {
            log.warning("queued message unreadable", metadata: ["error": "\(error)"])
            return
        }
        let signed: [UInt8]
        do {
            switch try await signer.sign(raw, sender: message.sender, submitted: message.accountID != nil) {
            case .message(let message, let selectors):
                signed = message
                if !selectors.isEmpty { log.debug("DKIM-signed", metadata: ["selectors": "\(selectors)"]) }
            case .failed(let reason):
                log.error("not sent: DKIM signing failed", metadata: ["reason": "\(reason)"])
                let outcomes = Dictionary(message.recipients.map { ($0.address, RecipientOutcome.deferred(reason)) }) { $1 }
                return await record(message, outcomes: outcomes, raw: raw, log: log)
            }
        } catch {
            log.warning("DKIM keys unreadable, will retry", metadata: ["error": "\(error)"])
            return
        }
        var outcomes: [String: RecipientOutcome] = [:]
        let byDomain = Dictionary(grouping: message.recipients) { Self.domain(of: $0.address) }
        for (domain, recipients) in byDomain.sorted(by: { $0.key < $1.key }) {
            let envelope = OutboundEnvelope(queueID: message.id, sender: message.sender, recipients: recipients.map(\.address),
                                            body8bit: message.body8bit, smtputf8: message.smtputf8)
            // DNS wants the A-label form of an internationalised domain.
            let destination = (try? DomainName(domain))?.ascii ?? domain
            let result = await limiter.with(destination) { [router, client] () -> [String: RecipientOutcome] in
                guard Date() < startBy else {
                    let reason = "4.4.5 not tried: no delivery slot for \(destination) within half the lease"
                    return Dictionary(uniqueKeysWithValues: recipients.map { ($0.address, .deferred(reason)) })
                }
                switch await router.plan(for: destination) {
                case .hops(let hops):
                    return await client.deliver(envelope, message: signed, hops: hops)
                case .permanentFailure(let reason):
                    return Dictionary(uniqueKeysWithValues: recipients.map { ($0.address, .failed(reason)) })
                case .temporaryFailure(let reason):
                    return Dictionary(uniqueKeysWithValues: recipients.map { ($0.address, .deferred(reason)) })
                }
            }
            outcomes.merge(result) { $1 }
        }
        await record(message, outcomes: outcomes, raw: raw, log: log)
    }

    func record(_ message: QueuedMessage, outcomes: [String: RecipientOutcome], raw: [UInt8], log: Logger) async {
        let now = Date()
        let expired = now.timeIntervalSince(message.createdAt) >= Double(settings.maximumAge.components.seconds)
        var results: [String: QueueResult] = [:]
        var failures: [DeliveryStatusNotification.Failure] = []
        for recipient in message.recipients {
            switch outcomes[recipient.address] ?? .deferred("no outcome") {
            case .delivered(let reply):
                log.info("sent", metadata: ["to": "\(recipient.address)", "reply": "\(reply)"])
                results[recipient.address] = .done
            case .failed(let reason):
                log.notice("bounced", metadata: ["to": "\(recipient.address)", "reason": "\(reason)"])
                failures.append(.init(recipient: recipient.address, diagnostic: reason))
            case .deferred(let reason) where expired:
                log.notice("bounced: too long in the queue", metadata: ["to": "\(recipient.address)", "reason": "\(reason)"])
                failures.append(.init(recipient: recipient.address,
                                      diagnostic: "4.4.7 Message delivery time expired; last problem: \(reason)"))
            case .deferred(let reason):
                log.info("deferred", metadata: ["to": "\(recipient.address)", "reason": "\(reason)"])
                results[recipient.address] = .retry(next: settings.nextAttempt(after: recipient.attempts + 1, now: now),
                                                    error: reason)
            }
        }
        if !failures.isEmpty {
            let report = DeliveryStatusNotification(reportingMTA: settings.hostname, queueID: message.id,
                                                    originalSender: message.sender, arrivalDate: message.createdAt,
                                                    failures: failures, original: raw)
            do {
                try await bounces.send(report)
                for failure in failures { results[failure.recipient] = .done }
            } catch {
                // The report could not be stored: keep the recipients and try the whole thing later.
                log.warning("bounce not sent, will retry", metadata: ["error": "\(error)"])
                for failure in failures {
                    results[failure.recipient] = .retry(next: now.addingTimeInterval(300), error: failure.diagnostic)
                }
            }
        }
        await warnOfDelay(message, results: results, raw: raw, now: now, log: log)
        do {
            try await queue.record(messageID: message.id, owner: settings.owner, results: results)
        } catch {
            log.error("outcome not recorded (the lease will run out and the recipients be tried again)",
                      metadata: ["error": "\(error)"])
        }
    }

    /// Sends the one delay warning of a message whose recipients are still deferred
    /// `delayWarning` after it arrived: claimed in the database first, so that two nodes
    /// holding recipients of one message do not both send it.
    func warnOfDelay(_ message: QueuedMessage, results: [String: QueueResult], raw: [UInt8], now: Date,
                     log: Logger) async {
        guard let warning = settings.delayWarning, !message.delayWarned,
              now.timeIntervalSince(message.createdAt) >= Double(warning.components.seconds) else { return }
        let delayed = message.recipients.compactMap { recipient -> DeliveryStatusNotification.Failure? in
            guard case .retry(_, let error) = results[recipient.address] else { return nil }
            return .init(recipient: recipient.address, diagnostic: error)
        }
        guard !delayed.isEmpty else { return }
        do {
            guard try await queue.claimDelayWarning(messageID: message.id) else { return }   // another node's
        } catch {
            log.warning("delay warning not claimed, will try at the next attempt", metadata: ["error": "\(error)"])
            return
        }
        var report = DeliveryStatusNotification(reportingMTA: settings.hostname, queueID: message.id,
                                                originalSender: message.sender, arrivalDate: message.createdAt,
                                                failures: delayed, original: raw)
        report.kind = .delay(retryUntil: message.createdAt.addingTimeInterval(Double(settings.maximumAge.components.seconds)))
        do {
            try await bounces.send(report)
            log.info("delay warning sent", metadata: ["to": "\(message.sender)", "delayed": "\(delayed.count)"])
        } catch {
            log.warning("delay warning not sent, will try at the next attempt", metadata: ["error": "\(error)"])
            _ = try? await queue.claimDelayWarning(messageID: message.id, release: true)
        }
    }

    static func domain(of address: String) -> String {
        guard let at = address.lastIndex(of: "@") else { return "" }
        return address[address.index(after: at)...].lowercased()
    }
}
