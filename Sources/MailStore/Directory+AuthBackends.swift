import Foundation
import MailCore
import PostgresNIO

/// A domain's authentication backend as stored (`domain_auth`, migration 0009). The settings
/// are the backend's JSON object; MailAuth decodes them.
public struct DomainAuthRecord: Sendable, Equatable {
    public var domain: String
    public var backend: String
    public var settingsJSON: String
    public var updatedAt: Date
}

extension Directory {
    /// The backend of `domain`, nil when it has none (the accounts table answers).
    public func domainAuth(_ domain: DomainName) async throws -> DomainAuthRecord? {
        try await domainAuths(matching: domain).first
    }

    /// Every domain with a backend set, or the one named.
    public func domainAuths(matching domain: DomainName? = nil) async throws -> [DomainAuthRecord] {
        let rows = try await database.query("""
            SELECT d.name, x.backend, x.settings::text, x.updated_at
            FROM domain_auth x JOIN domains d ON d.id = x.domain_id
            WHERE \(domain?.ascii)::text IS NULL OR d.name = \(domain?.ascii)
            ORDER BY d.name
            """)
        var out: [DomainAuthRecord] = []
        for try await (name, backend, settings, updated) in rows.decode((String, String, String, Date).self) {
            out.append(DomainAuthRecord(domain: name, backend: backend, settingsJSON: settings, updatedAt: updated))
        }
        return out
    }

    /// Sets (or replaces) the backend of a local domain.
    public func setDomainAuth(_ domain: DomainName, backend: String, settingsJSON: String) async throws {
        let record = try await self.domain(domain)
        if let target = record.aliasOf {
            throw StoreError(.conflict, "\(domain) is an alias domain of \(target): set the backend of \(target)")
        }
        try await database.query("""
            INSERT INTO domain_auth (domain_id, backend, settings) VALUES (\(record.id), \(backend), \(settingsJSON)::jsonb)
            ON CONFLICT (domain_id) DO UPDATE SET backend = excluded.backend, settings = excluded.settings, updated_at = now()
            """)
    }

    /// Back to the accounts table. Returns whether the domain had a backend set.
    @discardableResult
    public func removeDomainAuth(_ domain: DomainName) async throws -> Bool {
        let rows = try await database.query("""
            DELETE FROM domain_auth x USING domains d WHERE d.id = x.domain_id AND d.name = \(domain.ascii) RETURNING x.domain_id
            """)
        for try await _ in rows { return true }
        return false
    }

    /// A secret shared by every node (`auth_secrets`, migration 0009); nil when there is none.
    public func authSecret(_ name: String) async throws -> String? {
        let rows = try await database.query("SELECT value FROM auth_secrets WHERE name = \(name)")
        for try await value in rows.decode(String.self) { return value }
        return nil
    }

    /// Whether any domain authenticates elsewhere than in the accounts table (then SCRAM, which
    /// needs stored secrets, is not offered: clients would pick it and fail).
    public func anyDomainOutsideSQL() async throws -> Bool {
        let rows = try await database.query("SELECT EXISTS (SELECT 1 FROM domain_auth WHERE backend <> 'sql')")
        for try await exists in rows.decode(Bool.self) { return exists }
        return false
    }
}
