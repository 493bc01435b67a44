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

    /// Whether one more message of `size` bytes fits (size 0: whether anything fits at all).
    public func fits(size: Int64) -> Bool {
        if let messagesLeft, messagesLeft < 1 { return false }
        if let bytesLeft, bytesLeft < max(size, 1) { return false }
        return true
    }
}

extension Directory {
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
            func left(_ quota: Int64, _ used: Int64) -> Int64? { quota > 0 ? quota - used : nil }
            func smaller(_ a: Int64?, _ b: Int64?) -> Int64? {
                switch (a, b) {
                case let (a?, b?): return min(a, b)
                default: return a ?? b
                }
            }
            return DeliveryAccount(accountID: row.0, address: row.1, inboxID: inbox,
                                   bytesLeft: smaller(left(row.3, row.5), left(row.7, row.9)),
                                   messagesLeft: smaller(left(row.4, row.6), left(row.8, row.10)))
        }
        throw StoreError(.temporary, "\(address) has no INBOX")
    }
}
