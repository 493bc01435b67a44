import Foundation
import MailCore
import PostgresNIO

extension Directory {
    /// Adds an account in an existing local domain. `passwordHash` is stored as given
    /// (Dovecot scheme syntax); hashing is the caller's job (MailAuth).
    @discardableResult
    public func addAccount(_ address: EmailAddress, passwordHash: String, scramSHA256: String? = nil, displayName: String = "",
                           quotaBytes: Int64 = 0, quotaMessages: Int64 = 0) async throws -> AccountRecord {
        let domain = try await domain(address.domain)
        if let target = domain.aliasOf {
            throw StoreError(.conflict, "\(address.domain) is an alias domain of \(target): add the account in \(target)")
        }
        do {
            // The account and its default mailboxes (INBOX, Sent, Drafts, Trash, Junk, Archive) in one transaction.
            try await database.transaction { connection in
                let rows = try await connection.query("""
                    INSERT INTO accounts (domain_id, local_part, address, password_hash, scram_sha256, display_name,
                                          quota_bytes, quota_messages)
                    VALUES (\(domain.id), \(address.localPart), \(address.description), \(passwordHash), \(scramSHA256),
                            \(displayName), \(quotaBytes), \(quotaMessages))
                    RETURNING id
                    """, logger: database.logger)
                var accountID: Int64?
                for try await id in rows.decode(Int64.self) { accountID = id }
                if let accountID {
                    try await MailboxStore.createDefaults(accountID: accountID, on: connection, logger: database.logger)
                }
            }
        } catch let error as StoreError where error.kind == .alreadyExists {
            throw StoreError(.alreadyExists, "account \(address) already exists")
        }
        return try await account(address)
    }

    public func account(_ address: EmailAddress) async throws -> AccountRecord {
        guard let record = try await accounts(address: address).first else {
            throw StoreError(.notFound, "account \(address) does not exist")
        }
        return record
    }

    /// An account's quota and usage by id (IMAP QUOTA). Quotas of 0 are unlimited: nil.
    public func accountUsage(accountID: Int64) async throws
        -> (usedBytes: Int64, quotaBytes: Int64?, usedMessages: Int64, quotaMessages: Int64?) {
        let rows = try await database.query("""
            SELECT used_bytes, quota_bytes, used_messages, quota_messages FROM accounts WHERE id = \(accountID)
            """)
        for try await (ub, qb, um, qm) in rows.decode((Int64, Int64, Int64, Int64).self) {
            return (ub, qb > 0 ? qb : nil, um, qm > 0 ? qm : nil)
        }
        throw StoreError(.notFound, "account \(accountID) does not exist")
    }

    /// All accounts, those of one domain, or the one with that address.
    public func accounts(domain: DomainName? = nil, address: EmailAddress? = nil) async throws -> [AccountRecord] {
        let rows = try await database.query("""
            SELECT a.id, a.address, a.display_name, a.password_hash, a.quota_bytes, a.quota_messages,
                   a.used_bytes, a.used_messages, a.active, a.created_at
            FROM accounts a JOIN domains d ON d.id = a.domain_id
            WHERE (\(domain?.ascii)::text IS NULL OR d.name = \(domain?.ascii))
              AND (\(address?.description)::text IS NULL OR a.address = \(address?.description))
            ORDER BY d.name, a.local_part
            """)
        var out: [AccountRecord] = []
        for try await (id, address, name, hash, qb, qm, ub, um, active, created)
            in rows.decode((Int64, String, String, String, Int64, Int64, Int64, Int64, Bool, Date).self) {
            out.append(AccountRecord(id: id, address: address, displayName: name,
                                     passwordScheme: PasswordHashFormat.schemeName(of: hash),
                                     quotaBytes: qb, quotaMessages: qm, usedBytes: ub, usedMessages: um,
                                     active: active, createdAt: created))
        }
        return out
    }

    /// The stored hash of an account, for authentication; nil when there is no such account.
    /// The domain's active flag is folded into `active`.
    public func credentials(_ address: EmailAddress) async throws -> StoredCredentials? {
        let rows = try await database.query("""
            SELECT a.id, a.address, a.password_hash, a.active AND d.active, a.scram_sha256
            FROM accounts a JOIN domains d ON d.id = a.domain_id
            WHERE a.address = \(address.description)
            """)
        for try await (id, address, hash, active, scram) in rows.decode((Int64, String, String, Bool, String?).self) {
            return StoredCredentials(accountID: id, address: address, passwordHash: hash, active: active, scramSHA256: scram)
        }
        return nil
    }

    /// Sets a new password: its hash and its SCRAM-SHA-256 secrets (nil: none, SCRAM then fails
    /// for the account until the next password login writes them).
    public func setPasswordHash(_ address: EmailAddress, _ hash: String, scramSHA256: String? = nil) async throws {
        try await updateAccount(address, """
            UPDATE accounts SET password_hash = \(hash), scram_sha256 = \(scramSHA256), password_changed_at = now()
            WHERE address = \(address.description) RETURNING id
            """)
    }

    /// Rehash on login: replaces the stored hash only if it is still `expected` (a password
    /// changed meanwhile wins), and stores the SCRAM secrets. Returns whether it replaced it.
    @discardableResult
    public func replacePasswordHash(accountID: Int64, expected: String, with hash: String, scramSHA256: String?) async throws -> Bool {
        let rows = try await database.query("""
            UPDATE accounts SET password_hash = \(hash), scram_sha256 = coalesce(\(scramSHA256), scram_sha256)
            WHERE id = \(accountID) AND password_hash = \(expected) RETURNING id
            """)
        for try await _ in rows { return true }
        return false
    }

    public func setAccountActive(_ address: EmailAddress, _ active: Bool) async throws {
        try await updateAccount(address, "UPDATE accounts SET active = \(active) WHERE address = \(address.description) RETURNING id")
    }

    public func setDisplayName(_ address: EmailAddress, _ name: String) async throws {
        try await updateAccount(address, "UPDATE accounts SET display_name = \(name) WHERE address = \(address.description) RETURNING id")
    }

    /// Sets the limits; nil leaves a limit as it is, 0 removes it.
    public func setQuota(_ address: EmailAddress, bytes: Int64?, messages: Int64?) async throws {
        try await updateAccount(address, """
            UPDATE accounts SET quota_bytes = coalesce(\(bytes), quota_bytes),
                                quota_messages = coalesce(\(messages), quota_messages)
            WHERE address = \(address.description) RETURNING id
            """)
    }

    public func removeAccount(_ address: EmailAddress) async throws {
        try await updateAccount(address, "DELETE FROM accounts WHERE address = \(address.description) RETURNING id")
    }

    private func updateAccount(_ address: EmailAddress, _ query: PostgresQuery) async throws {
        let rows = try await database.query(query)
        for try await _ in rows { return }
        throw StoreError(.notFound, "account \(address) does not exist")
    }
}
