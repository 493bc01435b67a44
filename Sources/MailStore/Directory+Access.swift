import Foundation
import MailCore
import PostgresNIO

/// What an access rule applies to (Postfix: check_client_access, check_sender_access,
/// check_recipient_access).
public enum AccessRuleKind: String, Sendable, Codable, CaseIterable {
    case client, sender, recipient
}

public enum AccessAction: String, Sendable, Codable, CaseIterable {
    /// Client: trusted like `mynetworks` (may relay). Recipient: accepted even when remote
    /// (relay to it allowed). Sender: no later rule of this session rejects it.
    case ok = "OK"
    /// Refused with `554 5.7.1` and the rule's text.
    case reject = "REJECT"
}

public struct AccessRule: Sendable, Equatable, Codable {
    public var id: Int64
    public var kind: AccessRuleKind
    public var pattern: String
    public var action: AccessAction
    public var reply: String
    public var createdAt: Date
}

extension Directory {
    /// Normalises a pattern: a CIDR network for client rules (checked by PostgreSQL's cidr
    /// type), `user@domain`, `@domain` or `user@` for the others (lower-cased).
    static func normaliseAccessPattern(_ kind: AccessRuleKind, _ raw: String) throws -> String {
        let pattern = raw.trimmingCharacters(in: .whitespaces)
        guard !pattern.isEmpty, pattern.utf8.count <= 512 else { throw StoreError(.invalid, "an access pattern needs 1-512 characters") }
        if kind == .client {
            // An IPv4-mapped IPv6 network is stored as the IPv4 network: a mapped client address
            // is matched as the IPv4 address it carries.
            if let network = try? IPNetwork(pattern), network.unmapped != network { return network.unmapped.description }
            return pattern
        }
        let lowered = pattern.lowercased()
        guard lowered.filter({ $0 == "@" }).count == 1, lowered != "@",
              !lowered.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" }) else {
            throw StoreError(.invalid, "'\(raw)' is not user@domain, @domain or user@")
        }
        return lowered
    }

    public func addAccessRule(kind: AccessRuleKind, pattern raw: String, action: AccessAction, reply: String = "") async throws -> AccessRule {
        let pattern = try Self.normaliseAccessPattern(kind, raw)
        guard reply.utf8.count <= 200, !reply.contains(where: { $0.asciiValue.map { $0 < 32 || $0 == 127 } ?? false }) else {
            throw StoreError(.invalid, "the reply text must be one line of at most 200 bytes")
        }
        let network: String? = kind == .client ? pattern : nil
        let rows = try await database.query("""
            INSERT INTO access_rules (kind, pattern, network, action, reply)
            VALUES (\(kind.rawValue), \(pattern), \(network)::cidr, \(action.rawValue), \(reply))
            RETURNING id, kind, CASE WHEN network IS NULL THEN pattern ELSE network::text END, action, reply, created_at
            """)
        do {
            // The unique violation arrives with the rows, after `query` returned.
            for try await rule in rows.decode((Int64, String, String, String, String, Date).self) { return Self.rule(rule) }
        } catch {
            let mapped = database.mapError(error)
            if mapped.kind == .alreadyExists {
                throw StoreError(.alreadyExists, "a \(kind.rawValue) rule for '\(pattern)' exists already (remove it first)")
            }
            throw mapped
        }
        throw StoreError(.temporary, "access rule was not stored")
    }

    public func accessRules(kind: AccessRuleKind? = nil) async throws -> [AccessRule] {
        let rows = try await database.query("""
            SELECT id, kind, CASE WHEN network IS NULL THEN pattern ELSE network::text END, action, reply, created_at
            FROM access_rules WHERE \(kind?.rawValue)::text IS NULL OR kind = \(kind?.rawValue)
            ORDER BY kind, pattern
            """)
        var out: [AccessRule] = []
        for try await rule in rows.decode((Int64, String, String, String, String, Date).self) { out.append(Self.rule(rule)) }
        return out
    }

    /// Removes the rule of that kind and pattern; `.notFound` when there is none.
    public func removeAccessRule(kind: AccessRuleKind, pattern raw: String) async throws {
        let pattern = try Self.normaliseAccessPattern(kind, raw)
        let rows = try await database.query("""
            DELETE FROM access_rules
            WHERE kind = \(kind.rawValue) AND (pattern = \(pattern) OR (network IS NOT NULL AND network::text = \(pattern)))
            RETURNING id
            """)
        for try await _ in rows.decode(Int64.self) { return }
        throw StoreError(.notFound, "no \(kind.rawValue) access rule for '\(raw)'")
    }

    /// The most specific client rule whose network holds `ip` (longest prefix first).
    public func clientAccess(ip: String) async throws -> AccessRule? {
        let rows = try await database.query("""
            SELECT id, kind, network::text, action, reply, created_at FROM access_rules
            WHERE kind = 'client' AND network >>= \(ip)::inet
            ORDER BY masklen(network) DESC, id LIMIT 1
            """)
        for try await rule in rows.decode((Int64, String, String, String, String, Date).self) { return Self.rule(rule) }
        return nil
    }

    /// The rule for an address, Postfix order: `user@domain`, then `@domain`, then `user@`.
    public func addressAccess(_ kind: AccessRuleKind, address: String) async throws -> AccessRule? {
        guard let (exact, domain, user) = Self.accessPatterns(address) else { return nil }
        let rows = try await database.query("""
            SELECT id, kind, pattern, action, reply, created_at FROM access_rules
            WHERE kind = \(kind.rawValue) AND pattern IN (\(exact), \(domain), \(user))
            ORDER BY CASE pattern WHEN \(exact) THEN 0 WHEN \(domain) THEN 1 ELSE 2 END LIMIT 1
            """)
        for try await rule in rows.decode((Int64, String, String, String, String, Date).self) { return Self.rule(rule) }
        return nil
    }

    /// MAIL FROM's two look-ups in one round trip: the client rule for `ip` (nil: not wanted)
    /// and the sender rule for `sender` (nil or not an address: none), as `clientAccess` and
    /// `addressAccess(.sender, …)` would answer them.
    public func mailAccess(ip: String?, sender: String?) async throws -> (client: AccessRule?, sender: AccessRule?) {
        var result: (client: AccessRule?, sender: AccessRule?) = (nil, nil)
        for rule in try await database.execute(MailAccessStatement(ip: ip, patterns: sender.flatMap(Self.accessPatterns))) {
            if rule.kind == .client { result.client = rule } else { result.sender = rule }
        }
        return result
    }

    /// The three patterns an address matches, most specific first: `user@domain`, `@domain`,
    /// `user@` (lower-cased); nil without an `@`.
    static func accessPatterns(_ address: String) -> (String, String, String)? {
        let lowered = address.lowercased()
        guard let at = lowered.lastIndex(of: "@") else { return nil }
        return (lowered, String(lowered[at...]), String(lowered[..<at]) + "@")
    }

    static func rule(_ row: (Int64, String, String, String, String, Date)) -> AccessRule {
        AccessRule(id: row.0, kind: AccessRuleKind(rawValue: row.1) ?? .client, pattern: row.2,
                   action: AccessAction(rawValue: row.3) ?? .reject, reply: row.4, createdAt: row.5)
    }
}
