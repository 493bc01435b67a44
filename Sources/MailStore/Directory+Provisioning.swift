import Foundation
import MailCore
import PostgresNIO

/// What a directory (LDAP) says about a user, for an account row of its own here.
public struct ProvisionedAccount: Sendable, Equatable {
    public var address: EmailAddress
    /// nil: the directory has none (an admin's setting here is kept).
    public var displayName: String?
    /// nil: the directory has none (an admin's setting here is kept); 0: no limit.
    public var quotaBytes: Int64?
    /// Other addresses of the user (`mailAlternateAddress`): aliases to `address`.
    public var aliases: [EmailAddress]

    public init(address: EmailAddress, displayName: String? = nil, quotaBytes: Int64? = nil, aliases: [EmailAddress] = []) {
        self.address = address
        self.displayName = displayName
        self.quotaBytes = quotaBytes
        self.aliases = aliases
    }
}

extension Directory {
    /// The password hash of provisioned accounts: not a scheme, so it never verifies; the
    /// directory checks their passwords.
    public static let provisionedPasswordHash = "{LDAP}"

    /// Makes sure a directory user has an account here (with its default mailboxes) and that
    /// its alternate addresses are aliases to it, in one transaction; refreshes the display
    /// name and quota of an account provisioned earlier. An account an admin created is left
    /// as it is. Returns the account id.
    @discardableResult
    public func provision(_ user: ProvisionedAccount, from source: String) async throws -> Int64 {
        let domain = try await domain(user.address.domain)
        if let target = domain.aliasOf {
            throw StoreError(.conflict, "\(user.address.domain) is an alias domain of \(target)")
        }
        return try await database.transaction { connection in
            let rows = try await connection.query("""
                INSERT INTO accounts (domain_id, local_part, address, password_hash, display_name, quota_bytes, provisioned_from)
                VALUES (\(domain.id), \(user.address.localPart), \(user.address.description), \(Self.provisionedPasswordHash),
                        coalesce(\(user.displayName), ''), coalesce(\(user.quotaBytes), 0), \(source))
                ON CONFLICT (address) DO UPDATE
                    SET display_name = coalesce(\(user.displayName), accounts.display_name),
                        quota_bytes = coalesce(\(user.quotaBytes), accounts.quota_bytes)
                    WHERE accounts.provisioned_from IS NOT NULL
                RETURNING id, (xmax = 0)
                """, logger: database.logger)
            var accountID: Int64?
            var inserted = false
            for try await (id, fresh) in rows.decode((Int64, Bool).self) { (accountID, inserted) = (id, fresh) }
            if accountID == nil {
                // An admin's own account under that address: use it as it is.
                let existing = try await connection.query("SELECT id FROM accounts WHERE address = \(user.address.description)",
                                                          logger: database.logger)
                for try await id in existing.decode(Int64.self) { accountID = id }
            }
            guard let accountID else { throw StoreError(.notFound, "account \(user.address) could not be provisioned") }
            if inserted {
                try await MailboxStore.createDefaults(accountID: accountID, on: connection, logger: database.logger)
            }
            // Only addresses of the account's own domain: an entry never claims another domain's.
            for alias in user.aliases where alias != user.address && alias.domain == user.address.domain {
                try await Self.provisionAlias(alias, to: user.address, on: connection, logger: database.logger)
            }
            return accountID
        }
    }

    /// An alias `alias → address` unless the alias address is taken (by an account or another alias).
    private static func provisionAlias(_ alias: EmailAddress, to address: EmailAddress, on connection: PostgresConnection,
                                       logger: Logger) async throws {
        try await connection.query("""
            WITH d AS (SELECT id FROM domains WHERE name = \(alias.domain.ascii) AND alias_target IS NULL),
                 a AS (INSERT INTO aliases (domain_id, local_part, address, description)
                       SELECT d.id, \(alias.localPart), \(alias.description), 'provisioned from the directory' FROM d
                       WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE address = \(alias.description))
                       ON CONFLICT DO NOTHING RETURNING id)
            INSERT INTO alias_targets (alias_id, position, target) SELECT a.id, 0, \(address.description) FROM a
            """, logger: logger)
    }
}
