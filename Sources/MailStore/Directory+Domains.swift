import Foundation
import MailCore
import PostgresNIO

extension Directory {
    /// Adds a local domain, or an alias domain when `aliasOf` is given.
    @discardableResult
    public func addDomain(_ name: DomainName, aliasOf target: DomainName? = nil) async throws -> DomainRecord {
        do {
            try await database.query(
                "INSERT INTO domains (name, alias_target) VALUES (\(name.ascii), \(target?.ascii))")
        } catch let error as StoreError where error.kind == .alreadyExists {
            throw StoreError(.alreadyExists, "domain \(name) already exists")
        }
        return try await domain(name)
    }

    public func domain(_ name: DomainName) async throws -> DomainRecord {
        guard let record = try await domains(matching: name).first else {
            throw StoreError(.notFound, "domain \(name) does not exist")
        }
        return record
    }

    /// All domains, or the one named.
    public func domains(matching name: DomainName? = nil) async throws -> [DomainRecord] {
        let rows = try await database.query("""
            SELECT d.id, d.name, d.alias_target, d.active, d.created_at,
                   (SELECT count(*) FROM accounts a WHERE a.domain_id = d.id),
                   (SELECT count(*) FROM aliases x WHERE x.domain_id = d.id),
                   coalesce((SELECT array_agg(o.name ORDER BY o.name) FROM domains o WHERE o.alias_target = d.name), '{}')
            FROM domains d
            WHERE \(name?.ascii)::text IS NULL OR d.name = \(name?.ascii)
            ORDER BY d.name
            """)
        var out: [DomainRecord] = []
        for try await (id, name, target, active, created, accounts, aliases, aliasDomains)
            in rows.decode((Int64, String, String?, Bool, Date, Int64, Int64, [String]).self) {
            out.append(DomainRecord(id: id, name: name, aliasOf: target, active: active, createdAt: created,
                                    accounts: Int(accounts), aliases: Int(aliases), aliasDomains: aliasDomains))
        }
        return out
    }

    public func setDomainActive(_ name: DomainName, _ active: Bool) async throws {
        let rows = try await database.query(
            "UPDATE domains SET active = \(active) WHERE name = \(name.ascii) RETURNING id")
        for try await _ in rows { return }
        throw StoreError(.notFound, "domain \(name) does not exist")
    }

    /// Removes a domain. Without `force` a domain that still has accounts, aliases or alias
    /// domains pointing at it is refused (and the refusal says what is left); with `force`
    /// all of those go too, in one transaction.
    @discardableResult
    public func removeDomain(_ name: DomainName, force: Bool) async throws -> DomainRemoval {
        let record = try await domain(name)
        let inUse = record.accounts + record.aliases + record.aliasDomains.count
        if inUse > 0 && !force {
            var parts: [String] = []
            if record.accounts > 0 { parts.append("\(record.accounts) account(s)") }
            if record.aliases > 0 { parts.append("\(record.aliases) alias(es)") }
            if !record.aliasDomains.isEmpty { parts.append("alias domain(s) \(record.aliasDomains.joined(separator: ", "))") }
            throw StoreError(.conflict, "domain \(name) still has \(parts.joined(separator: ", ")); "
                + "remove them first, or use --force to remove them with the domain")
        }
        let id = record.id
        try await database.transaction { connection in
            let logger = database.logger
            // Alias domains pointing here, with their own aliases.
            try await connection.query("""
                DELETE FROM aliases WHERE domain_id IN (SELECT id FROM domains WHERE alias_target = \(name.ascii))
                """, logger: logger)
            try await connection.query("DELETE FROM domains WHERE alias_target = \(name.ascii)", logger: logger)
            try await connection.query("DELETE FROM aliases WHERE domain_id = \(id)", logger: logger)
            try await connection.query("DELETE FROM accounts WHERE domain_id = \(id)", logger: logger)
            try await connection.query("DELETE FROM domains WHERE id = \(id)", logger: logger)
        }
        return DomainRemoval(domain: name.ascii, accounts: record.accounts, aliases: record.aliases,
                             aliasDomains: record.aliasDomains)
    }
}

/// A domain's quota and its usage (the sum over its accounts).
public struct DomainUsage: Sendable, Equatable, Codable {
    public var quotaBytes: Int64
    public var quotaMessages: Int64
    public var usedBytes: Int64
    public var usedMessages: Int64
}

extension Directory {
    /// Sets a domain's limits; nil leaves a limit as it is, 0 removes it.
    public func setDomainQuota(_ name: DomainName, bytes: Int64?, messages: Int64?) async throws {
        let rows = try await database.query("""
            UPDATE domains SET quota_bytes = coalesce(\(bytes), quota_bytes), quota_messages = coalesce(\(messages), quota_messages)
            WHERE name = \(name.ascii) RETURNING id
            """)
        for try await _ in rows { return }
        throw StoreError(.notFound, "domain \(name) does not exist")
    }

    public func domainUsage(_ name: DomainName) async throws -> DomainUsage {
        let rows = try await database.query("""
            SELECT d.quota_bytes, d.quota_messages, coalesce(sum(a.used_bytes), 0)::bigint, coalesce(sum(a.used_messages), 0)::bigint
            FROM domains d LEFT JOIN accounts a ON a.domain_id = d.id WHERE d.name = \(name.ascii)
            GROUP BY d.id
            """)
        for try await (qb, qm, ub, um) in rows.decode((Int64, Int64, Int64, Int64).self) {
            return DomainUsage(quotaBytes: qb, quotaMessages: qm, usedBytes: ub, usedMessages: um)
        }
        throw StoreError(.notFound, "domain \(name) does not exist")
    }
}
