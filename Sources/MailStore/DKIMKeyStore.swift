import Foundation
import MailCore
import PostgresNIO

/// One stored DKIM key (migration 0007).
public struct DKIMKeyRecord: Sendable, Equatable, Codable {
    public var domain: String
    public var selector: String
    /// `rsa-sha256` or `ed25519-sha256`.
    public var algorithm: String
    /// PEM.
    public var privateKey: String
    public var active: Bool
    public var createdAt: Date
}

/// The DKIM keys of the domains: kept by `petrel dkim`, read by the queue workers.
public struct DKIMKeyStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Validates a selector: DNS labels (RFC 6376 §3.1), lower-cased.
    public static func normaliseSelector(_ raw: String) throws -> String {
        let selector = raw.lowercased()
        let label = "[a-z0-9]([a-z0-9-]*[a-z0-9])?"
        guard selector.utf8.count <= 63,
              selector.wholeMatch(of: try Regex("\(label)(\\.\(label))*")) != nil else {
            throw StoreError(.invalid, "'\(raw)' is not a selector (DNS labels of letters, digits and '-', up to 63 characters)")
        }
        return selector
    }

    /// Stores a key for an existing domain (local or alias).
    public func add(domain: DomainName, selector: String, algorithm: String, privateKey: String,
                    active: Bool) async throws -> DKIMKeyRecord {
        let selector = try Self.normaliseSelector(selector)
        do {
            let rows = try await database.query("""
                INSERT INTO dkim_keys (domain_id, selector, algorithm, private_key, active)
                SELECT id, \(selector), \(algorithm), \(privateKey), \(active) FROM domains WHERE name = \(domain.ascii)
                RETURNING \(domain.ascii)::text, selector, algorithm, private_key, active, created_at
                """)
            // A unique violation arrives with the RETURNING row, not with the query.
            if let record = try await records(rows).first { return record }
        } catch let error as StoreError where error.kind == .alreadyExists {
            throw StoreError(.alreadyExists, "domain \(domain) already has a key with selector \(selector)")
        }
        throw StoreError(.notFound, "domain \(domain) does not exist")
    }

    /// Every key, or those of one domain, by domain then age.
    public func keys(domain: DomainName? = nil) async throws -> [DKIMKeyRecord] {
        let rows = try await database.query("""
            SELECT d.name, k.selector, k.algorithm, k.private_key, k.active, k.created_at
            FROM dkim_keys k JOIN domains d ON d.id = k.domain_id
            WHERE \(domain?.ascii)::text IS NULL OR d.name = \(domain?.ascii)
            ORDER BY d.name, k.created_at, k.id
            """)
        return try await records(rows)
    }

    /// What a message from `domain` is signed with: its newest active key of each algorithm.
    public func signingKeys(domain: String) async throws -> [DKIMKeyRecord] {
        let rows = try await database.query("""
            SELECT DISTINCT ON (k.algorithm) d.name, k.selector, k.algorithm, k.private_key, k.active, k.created_at
            FROM dkim_keys k JOIN domains d ON d.id = k.domain_id
            WHERE d.name = \(domain.lowercased()) AND k.active
            ORDER BY k.algorithm, k.created_at DESC, k.id DESC
            """)
        return try await records(rows)
    }

    public func setActive(domain: DomainName, selector: String, _ active: Bool) async throws {
        let rows = try await database.query("""
            UPDATE dkim_keys k SET active = \(active) FROM domains d
            WHERE d.id = k.domain_id AND d.name = \(domain.ascii) AND k.selector = \(selector.lowercased())
            RETURNING k.id
            """)
        for try await _ in rows { return }
        throw StoreError(.notFound, "domain \(domain) has no key with selector \(selector)")
    }

    public func remove(domain: DomainName, selector: String) async throws {
        let rows = try await database.query("""
            DELETE FROM dkim_keys k USING domains d
            WHERE d.id = k.domain_id AND d.name = \(domain.ascii) AND k.selector = \(selector.lowercased())
            RETURNING k.id
            """)
        for try await _ in rows { return }
        throw StoreError(.notFound, "domain \(domain) has no key with selector \(selector)")
    }

    private func records(_ rows: PostgresRowSequence) async throws -> [DKIMKeyRecord] {
        var out: [DKIMKeyRecord] = []
        do {
            for try await (domain, selector, algorithm, key, active, created)
                in rows.decode((String, String, String, String, Bool, Date).self) {
                out.append(DKIMKeyRecord(domain: domain, selector: selector, algorithm: algorithm, privateKey: key,
                                         active: active, createdAt: created))
            }
        } catch {
            throw database.mapError(error)
        }
        return out
    }
}
