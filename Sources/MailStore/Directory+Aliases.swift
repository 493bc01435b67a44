import Foundation
import MailCore
import PostgresNIO

extension Directory {
    /// Bound on targets per alias: one alias row is one line of a Postfix virtual table; more
    /// than this belongs in a mailing list. Keeps a single expansion step bounded.
    public static let maximumTargetsPerAlias = 1000

    /// Normalises an alias target: an address, or a bare local part meaning that local part in
    /// `domain` (as in the seeds' `123@group.com  maomao,xixi`). Stored as a whole address.
    public static func normaliseTarget(_ raw: String, in domain: DomainName) throws -> EmailAddress {
        let text = raw.trimmingCharacters(in: .whitespaces)
        do {
            return text.contains("@") ? try EmailAddress(text) : try EmailAddress(localPart: text, domain: domain)
        } catch let error as EmailAddress.Invalid {
            throw StoreError(.invalid, "alias target '\(raw)': \(error)")
        }
    }

    /// Creates the alias, or adds targets to an existing one (targets already there are kept once).
    @discardableResult
    public func addAlias(_ source: AliasSource, targets rawTargets: [String]) async throws -> AliasRecord {
        guard !rawTargets.isEmpty else { throw StoreError(.invalid, "an alias needs at least one target") }
        let targets = try rawTargets.map { try Self.normaliseTarget($0, in: source.domain).description }
        let domain = try await domain(source.domain)
        let localPart: String? = if case .address(let a) = source { a.localPart } else { nil }
        try await database.transaction { connection in
            let logger = database.logger
            let rows = try await connection.query("""
                INSERT INTO aliases (domain_id, local_part, address) VALUES (\(domain.id), \(localPart), \(source.description))
                ON CONFLICT (address) DO UPDATE SET updated_at = now()
                RETURNING id, (SELECT count(*) FROM alias_targets t WHERE t.alias_id = aliases.id),
                          (SELECT coalesce(max(position) + 1, 0) FROM alias_targets t WHERE t.alias_id = aliases.id)
                """, logger: logger)
            var aliasID: Int64 = 0, existing: Int64 = 0, next: Int32 = 0
            for try await (id, count, position) in rows.decode((Int64, Int64, Int32).self) {
                (aliasID, existing, next) = (id, count, position)
            }
            guard Int(existing) + targets.count <= Self.maximumTargetsPerAlias else {
                throw StoreError(.invalid, "an alias may have at most \(Self.maximumTargetsPerAlias) targets")
            }
            for target in targets {
                let inserted = try await connection.query("""
                    INSERT INTO alias_targets (alias_id, position, target) VALUES (\(aliasID), \(next), \(target))
                    ON CONFLICT (alias_id, target) DO NOTHING RETURNING 1
                    """, logger: logger)
                for try await _ in inserted { next += 1 }
            }
        }
        return try await alias(source)
    }

    public func alias(_ source: AliasSource) async throws -> AliasRecord {
        guard let record = try await aliases(address: source.description).first else {
            throw StoreError(.notFound, "alias \(source) does not exist")
        }
        return record
    }

    /// All aliases, those of one domain, or the one with that address.
    public func aliases(domain: DomainName? = nil, address: String? = nil) async throws -> [AliasRecord] {
        let rows = try await database.query("""
            SELECT a.id, a.address, a.active,
                   coalesce((SELECT array_agg(t.target ORDER BY t.position) FROM alias_targets t WHERE t.alias_id = a.id), '{}')
            FROM aliases a JOIN domains d ON d.id = a.domain_id
            WHERE (\(domain?.ascii)::text IS NULL OR d.name = \(domain?.ascii))
              AND (\(address)::text IS NULL OR a.address = \(address))
            ORDER BY d.name, a.local_part NULLS FIRST
            """)
        var out: [AliasRecord] = []
        for try await (id, address, active, targets) in rows.decode((Int64, String, Bool, [String]).self) {
            out.append(AliasRecord(id: id, address: address, targets: targets, active: active))
        }
        return out
    }

    /// Removes the named targets from an alias (the alias goes when none is left), or the whole
    /// alias when `targets` is empty.
    public func removeAlias(_ source: AliasSource, targets rawTargets: [String] = []) async throws {
        let record = try await alias(source)
        if rawTargets.isEmpty {
            try await database.query("DELETE FROM aliases WHERE id = \(record.id)")
            return
        }
        let targets = try rawTargets.map { try Self.normaliseTarget($0, in: source.domain).description }
        let missing = targets.filter { !record.targets.contains($0) }
        guard missing.isEmpty else {
            throw StoreError(.notFound, "alias \(source) has no target \(missing.joined(separator: ", "))")
        }
        try await database.transaction { connection in
            try await connection.query(
                "DELETE FROM alias_targets WHERE alias_id = \(record.id) AND target = ANY(\(targets))", logger: database.logger)
            try await connection.query("""
                DELETE FROM aliases WHERE id = \(record.id)
                AND NOT EXISTS (SELECT 1 FROM alias_targets WHERE alias_id = \(record.id))
                """, logger: database.logger)
        }
    }

    public func setAliasActive(_ source: AliasSource, _ active: Bool) async throws {
        let rows = try await database.query(
            "UPDATE aliases SET active = \(active) WHERE address = \(source.description) RETURNING id")
        for try await _ in rows { return }
        throw StoreError(.notFound, "alias \(source) does not exist")
    }
}
