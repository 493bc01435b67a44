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
    /// name and quota of an account provisioned earlier when the directory's differ (no write
    /// at all when nothing changed). An account an admin created is left as it is. Returns the
    /// account id, and whether it may log in (the account's and its domain's active flags).
    @discardableResult
    public func provision(_ user: ProvisionedAccount, from source: String) async throws -> (accountID: Int64, active: Bool) {
        try await database.transaction { connection in
            // The light look-up (not `domain(_:)`, which counts the domain's accounts): this runs at every directory login.
            var domain: (id: Int64, aliasOf: String?)?
            let found = try await connection.query("SELECT id, alias_target FROM domains WHERE name = \(user.address.domain.ascii)",
                                                   logger: database.logger)
            for try await row in found.decode((Int64, String?).self) { domain = row }
            guard let domain else { throw StoreError(.notFound, "domain \(user.address.domain) does not exist") }
            if let target = domain.aliasOf {
                throw StoreError(.conflict, "\(user.address.domain) is an alias domain of \(target)")
            }
            let rows = try await connection.query("""
                INSERT INTO accounts (domain_id, local_part, address, password_hash, display_name, quota_bytes, provisioned_from)
                VALUES (\(domain.id), \(user.address.localPart), \(user.address.description), \(Self.provisionedPasswordHash),
                        coalesce(\(user.displayName), ''), coalesce(\(user.quotaBytes), 0), \(source))
                ON CONFLICT (address) DO UPDATE
                    SET display_name = coalesce(\(user.displayName), accounts.display_name),
                        quota_bytes = coalesce(\(user.quotaBytes), accounts.quota_bytes)
                    WHERE accounts.provisioned_from IS NOT NULL
                      AND (accounts.display_name, accounts.quota_bytes) IS DISTINCT FROM
                          (coalesce(\(user.displayName), accounts.display_name), coalesce(\(user.quotaBytes), accounts.quota_bytes))
                RETURNING id, (xmax = 0)
                """, logger: database.logger)
            var inserted: Int64?
            for try await (id, fresh) in rows.decode((Int64, Bool).self) where fresh { inserted = id }
            if let inserted {
                try await MailboxStore.createDefaults(accountID: inserted, on: connection, logger: database.logger)
            }
            // Only addresses of the account's own domain: an entry never claims another domain's.
            for alias in user.aliases where alias != user.address && alias.domain == user.address.domain {
                try await Self.provisionAlias(alias, to: user.address, on: connection, logger: database.logger)
            }
            let account = try await connection.query("""
                SELECT a.id, a.active AND d.active FROM accounts a JOIN domains d ON d.id = a.domain_id
                WHERE a.address = \(user.address.description)
                """, logger: database.logger)
            for try await row in account.decode((Int64, Bool).self) { return (accountID: row.0, active: row.1) }
            throw StoreError(.notFound, "account \(user.address) could not be provisioned")
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
