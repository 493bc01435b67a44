import Foundation
import Logging
import MailCore
import MailStore

/// Sends non-delivery reports to the envelope sender: delivered locally when the sender is one
/// of our addresses, otherwise queued like any other outbound message — always with the null
/// sender `<>`, so a report that cannot be delivered is never reported on in turn (RFC 5321
/// §4.5.5), and never to the null sender itself.
public struct BounceSender: Sendable {
    let directory: Directory
    let store: MessageStore
    let limits: ResolutionLimits
    let logger: Logger

    public init(database: Database, limits: ResolutionLimits, logger: Logger) {
        directory = Directory(database: database)
        store = MessageStore(database: database)
        self.limits = limits
        self.logger = logger
    }

    /// Stores or queues `report`. Returns the new queue id, nil when nothing was sent (null
    /// sender, or a local sender that no longer exists).
    @discardableResult
    public func send(_ report: DeliveryStatusNotification) async throws -> String? {
        var log = logger
        log[metadataKey: "queue_id"] = "\(report.queueID)"
        guard !report.originalSender.isEmpty else {
            log.info("no bounce for the null sender", metadata: ["failed": "\(report.failures.count)"])
            return nil
        }
        let queueID = QueueID.make()
        var local: [LocalCopy] = []
        var remote: [String] = []
        if let address = try? EmailAddress(report.originalSender), try await directory.domainRole(address.domain) != nil {
            switch try await directory.localRecipients(address, limits: limits) {
            case .deliver(let accounts, let external):
                for account in accounts {
                    let prefix = "Return-Path: <>\r\nDelivered-To: \(DeliveryStatusNotification.clean(account.address))\r\n"
                    local.append(LocalCopy(target: DeliveryTarget(accountID: account.accountID, mailboxID: account.inboxID),
                                           headerPrefix: Array(prefix.utf8), recipient: account.address))
                }
                remote = external
            case .unknown, .expansionFailed:
                log.warning("bounce dropped: the local sender does not exist", metadata: ["sender": "\(report.originalSender)"])
                return nil
            }
        } else {
            remote = [report.originalSender]
        }
        let message = PreparedMessage(raw: report.render())
        let inbound = InboundMessage(queueID: queueID, sender: "", message: message, local: local, remote: remote,
                                     client: "localhost (bounce of \(report.queueID))", accountID: nil, smtputf8: false,
                                     body8bit: true)
        _ = try await store.accept(inbound)
        log.info("bounce sent", metadata: ["bounce_id": "\(queueID)", "to": "\(report.originalSender)"])
        return queueID
    }
}
