import Foundation
import MailCore
import PostgresNIO

/// What SMTP needs to know at RCPT time about a local account: where its mail goes and
/// whether a message of a given size still fits under its own and its domain's quota.
public struct DeliveryAccount: Sendable, Equatable {
    public var accountID: Int64
    public var address: String
    public var inboxID: Int64
    /// Room left, nil when unlimited (the smaller of the account's and the domain's).
    public var bytesLeft: Int64?
    public var messagesLeft: Int64?

    /// Room left from the account's and its domain's quotas and usage (a quota of 0: unlimited).
    init(accountID: Int64, address: String, inboxID: Int64,
         quotas: (bytes: Int64, messages: Int64, usedBytes: Int64, usedMessages: Int64),
         domainQuotas: (bytes: Int64, messages: Int64, usedBytes: Int64, usedMessages: Int64)) {
        func left(_ quota: Int64, _ used: Int64) -> Int64? { quota > 0 ? quota - used : nil }
        func smaller(_ a: Int64?, _ b: Int64?) -> Int64? {
            switch (a, b) {
            case let (a?, b?): return min(a, b)
            default: return a ?? b
            }
        }
        self.accountID = accountID
        self.address = address
        self.inboxID = inboxID
        bytesLeft = smaller(left(quotas.bytes, quotas.usedBytes), left(domainQuotas.bytes, domainQuotas.usedBytes))
        messagesLeft = smaller(left(quotas.messages, quotas.usedMessages), left(domainQuotas.messages, domainQuotas.usedMessages))
    }

    /// Whether one more message of `size` bytes fits (size 0: whether anything fits at all).
    public func fits(size: Int64) -> Bool {
        if let messagesLeft, messagesLeft < 1 { return false }
        if let bytesLeft, bytesLeft < max(size, 1) { return false }
        return true
    }
}

/// The one-query answer for the common RCPT: a plain account address. Anything else (an alias,
/// a subaddress, a domain alias, a catch-all, an unknown name) needs the full resolver.
public enum DirectDelivery: Sendable, Equatable {
    /// The domain is not one of ours at all.
    case notOurs
    /// An active account in an active local domain, and no alias on its address: by the
    /// resolver's order (alias first, then account) its mail goes to that account alone.
    case account(DeliveryAccount)
    /// Ours, but not that simple: ask the resolver.
    case resolve
}

extension Directory {
    /// `.account` exactly when `AddressResolver` would resolve `address` (which has no
    /// subaddress tag: the caller checks) to that one account, in a single round trip.
    public func directDelivery(_ address: EmailAddress) async throws -> DirectDelivery {
        try await recipientLookup(address, ruleFor: nil).delivery
    }

    /// RCPT's look-ups in one round trip (`petrel_recipient_lookup`, migration 0005):
    /// `directDelivery(address)`, and the recipient access rule for `ruleFor` (the address as the
    /// client wrote it) as `addressAccess(.recipient, …)` would answer it.
    public func recipientLookup(_ address: EmailAddress, ruleFor: String?) async throws
        -> (delivery: DirectDelivery, rule: AccessRule?) {
        let statement = RecipientLookupStatement(address: address.description, domain: address.domain.ascii,
                                                 patterns: ruleFor.flatMap(Self.accessPatterns))
        for answer in try await database.execute(statement) { return (answer.delivery, answer.rule) }
        throw StoreError(.temporary, "recipient look-up returned no row")
    }

    /// The active account with exactly this address, its INBOX (made when an account created
    /// outside Petrel has none) and the room its quotas leave. nil when there is no such active
    /// account.
    public func deliveryAccount(_ address: EmailAddress) async throws -> DeliveryAccount? {
        for attempt in 0..<2 {
            let rows = try await database.query("""
                SELECT a.id, a.address, m.id,
                       a.quota_bytes, a.quota_messages, a.used_bytes, a.used_messages,
                       d.quota_bytes, d.quota_messages, coalesce(u.bytes, 0), coalesce(u.messages, 0)
                FROM accounts a JOIN domains d ON d.id = a.domain_id
                LEFT JOIN mailboxes m ON m.account_id = a.id AND m.name = 'INBOX'
                -- The domain's usage, summed only when it has a quota (one pass over its accounts).
                LEFT JOIN LATERAL (SELECT sum(used_bytes)::bigint AS bytes, sum(used_messages)::bigint AS messages
                                   FROM accounts WHERE domain_id = d.id) u
                       ON d.quota_bytes > 0 OR d.quota_messages > 0
                WHERE a.address = \(address.description) AND a.active AND d.active
                """)
            var found: (Int64, String, Int64?, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64)?
            for try await row in rows.decode((Int64, String, Int64?, Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self) {
                found = row
            }
            guard let row = found else { return nil }
            guard let inbox = row.2 else {
                if attempt == 0 { try await MailboxStore(database: database).ensureDefaults(accountID: row.0) }
                continue
            }
            return DeliveryAccount(accountID: row.0, address: row.1, inboxID: inbox,
                                   quotas: (row.3, row.4, row.5, row.6), domainQuotas: (row.7, row.8, row.9, row.10))
        }
        throw StoreError(.temporary, "\(address) has no INBOX")
    }

    /// Where mail to `address` (in one of our domains) goes: the full resolver (aliases,
    /// subaddresses, alias domains, catch-alls), then the delivery account of each local
    /// target. Used by SMTP's RCPT and by bounces to local senders.
    public func localRecipients(_ address: EmailAddress, limits: ResolutionLimits) async throws -> LocalRecipients {
        let resolution: Resolution
        do {
            resolution = try await AddressResolver(directory: self, limits: limits).resolve(address)
        } catch let error as ResolutionError {
            return .expansionFailed("\(error)")
        }
        guard resolution.isDeliverable else { return .unknown }
        var accounts: [DeliveryAccount] = []
        for local in resolution.local {
            if let account = try await deliveryAccount(local) { accounts.append(account) }
        }
        if accounts.isEmpty && resolution.external.isEmpty { return .unknown }
        return .deliver(accounts: accounts, external: resolution.external.map(\.description))
    }
}

/// The resolution of an address in one of our domains (`Directory.localRecipients`).
public enum LocalRecipients: Sendable, Equatable {
    /// Accounts here, and forwarding targets elsewhere.
    case deliver(accounts: [DeliveryAccount], external: [String])
    /// Nobody by that name.
    case unknown
    /// The alias expansion broke a limit (depth, fan-out).
    case expansionFailed(String)
}
