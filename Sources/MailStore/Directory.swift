import Logging
import MailCore
import PostgresNIO

/// Domains, accounts and aliases in PostgreSQL. Every name going in is in canonical form
/// (``DomainName``, ``EmailAddress``), so lookups are exact matches on indexed columns.
public struct Directory: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }
}

// MARK: - RecipientDirectory

extension Directory: RecipientDirectory {
    public func domainRole(_ domain: DomainName) async throws -> DomainRole? {
        let rows = try await database.query(
            "SELECT alias_target, active FROM domains WHERE name = \(domain.ascii)")
        var role: DomainRole?
        for try await (target, active) in rows.decode((String?, Bool).self) {
            if !active {
                role = .inactive
            } else if let target {
                role = .alias(of: try DomainName(target))
            } else {
                role = .local
            }
        }
        return role
    }

    public func aliasTargets(_ source: AliasSource) async throws -> [String]? {
        let rows = try await database.query("""
            SELECT t.target FROM aliases a
            JOIN domains d ON d.id = a.domain_id
            LEFT JOIN alias_targets t ON t.alias_id = a.id
            WHERE a.address = \(source.description) AND a.active AND d.active
            ORDER BY t.position
            """)
        var targets: [String]?
        for try await target in rows.decode(String?.self) {
            if targets == nil { targets = [] }
            if let target { targets!.append(target) }
        }
        return targets
    }

    public func isActiveAccount(_ address: EmailAddress) async throws -> Bool {
        let rows = try await database.query("""
            SELECT 1 FROM accounts a JOIN domains d ON d.id = a.domain_id
            WHERE a.address = \(address.description) AND a.active AND d.active
            """)
        for try await _ in rows { return true }
        return false
    }
}
