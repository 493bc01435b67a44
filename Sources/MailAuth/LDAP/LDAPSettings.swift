import Foundation

/// A domain's LDAP backend, as stored in `domain_auth.settings` (JSON, the keys in snake_case)
/// and set with `petrel domain auth set DOMAIN ldap …`. See docs/authentication.md.
public struct LDAPSettings: Codable, Sendable, Equatable {
    /// `ldap://host[:port]` or `ldaps://host[:port]`; several, space-separated, are tried in order.
    public var uri: String
    /// StartTLS on an `ldap://` connection (RFC 4513 §3); refused connections fail, never fall back.
    public var startTLS: Bool?
    /// CA certificates (PEM) that the server's certificate must chain to; the system's when nil.
    public var caFile: String?
    /// Check the server's certificate and name (default true). Only for a lab: false.
    public var tlsVerify: Bool?
    /// The service account that searches; nil searches anonymously.
    public var bindDN: String?
    public var bindPassword: String?
    public var baseDN: String
    /// `sub` (default), `one` or `base`.
    public var scope: String?
    /// Finds the user at login; `%s` address, `%u` local part, `%d` domain.
    public var userFilter: String?
    /// Finds a recipient at RCPT (default: `userFilter`), e.g. with `mailAlternateAddress` too.
    public var recipientFilter: String?
    /// The attribute holding the user's address (default `mail`).
    public var mailAttribute: String?
    /// Other addresses of the user, made aliases (e.g. `mailAlternateAddress`).
    public var aliasAttribute: String?
    /// The user's quota in bytes (e.g. `mailQuota`).
    public var quotaAttribute: String?
    /// The user's display name (default `displayName`).
    public var nameAttribute: String?
    /// Seconds for connecting and for each operation (default 5).
    public var timeout: Double?
    /// Connections (and threads) to the directory per node (default 4).
    public var poolSize: Int?

    public init(uri: String, baseDN: String) {
        self.uri = uri
        self.baseDN = baseDN
    }

    public static let defaultUserFilter = "(&(objectClass=inetOrgPerson)(mail=%s))"

    public var effectiveUserFilter: String { userFilter ?? Self.defaultUserFilter }
    public var effectiveRecipientFilter: String { recipientFilter ?? effectiveUserFilter }
    public var effectiveMailAttribute: String { mailAttribute ?? "mail" }
    public var effectiveNameAttribute: String { nameAttribute ?? "displayName" }
    public var effectiveTimeout: Double { timeout ?? 5 }
    public var effectivePoolSize: Int { poolSize ?? 4 }
    public var verifiesCertificates: Bool { tlsVerify ?? true }
    public var usesStartTLS: Bool { startTLS ?? false }

    enum CodingKeys: String, CodingKey {
        case uri, startTLS = "start_tls", caFile = "ca_file", tlsVerify = "tls_verify", bindDN = "bind_dn",
             bindPassword = "bind_password", baseDN = "base_dn", scope, userFilter = "user_filter",
             recipientFilter = "recipient_filter", mailAttribute = "mail_attribute", aliasAttribute = "alias_attribute",
             quotaAttribute = "quota_attribute", nameAttribute = "name_attribute", timeout, poolSize = "pool_size"
    }

    /// What is wrong with these settings, nil when nothing.
    public func problem() -> String? {
        let uris = uri.split(separator: " ")
        if uris.isEmpty || !uris.allSatisfy({ $0.hasPrefix("ldap://") || $0.hasPrefix("ldaps://") }) {
            return "uri must be ldap://… or ldaps://…"
        }
        if usesStartTLS && uris.contains(where: { $0.hasPrefix("ldaps://") }) { return "start_tls is for ldap:// URIs" }
        if baseDN.isEmpty { return "base_dn is required" }
        if (bindDN == nil) != (bindPassword == nil) { return "bind_dn and bind_password go together" }
        if bindPassword?.isEmpty == true { return "bind_password must not be empty (an empty password binds anonymously)" }
        for filter in [effectiveUserFilter, effectiveRecipientFilter] where !LDAPFilter.isValidTemplate(filter) {
            return "filter \(filter) must be parenthesised, balanced, and use %s or %u"
        }
        if let scope, !["sub", "one", "base"].contains(scope) { return "scope must be sub, one or base" }
        if !(0.1 ... 120).contains(effectiveTimeout) { return "timeout must be between 0.1 and 120 seconds" }
        if !(1 ... 64).contains(effectivePoolSize) { return "pool_size must be between 1 and 64" }
        return nil
    }

    public static func decode(json: String) throws -> LDAPSettings {
        try JSONDecoder().decode(LDAPSettings.self, from: Data(json.utf8))
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
