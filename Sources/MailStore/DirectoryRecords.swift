import Foundation

/// A domain as stored.
public struct DomainRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    /// The domain this one is an alias of; nil for a local domain.
    public var aliasOf: String?
    public var active: Bool
    public var createdAt: Date
    public var accounts: Int
    public var aliases: Int
    /// Alias domains that point at this one.
    public var aliasDomains: [String]

    public var kind: String { aliasOf == nil ? "local" : "alias" }
}

/// An account as stored, without its password hash (only the scheme of the hash is shown).
public struct AccountRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var address: String
    public var displayName: String
    public var passwordScheme: String
    /// 0 means no limit.
    public var quotaBytes: Int64
    public var quotaMessages: Int64
    public var usedBytes: Int64
    public var usedMessages: Int64
    public var active: Bool
    public var createdAt: Date
}

/// An alias (`user@domain` or the catch-all `@domain`) and its targets, in order.
public struct AliasRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var address: String
    public var targets: [String]
    public var active: Bool
}

/// What `domain remove --force` took with it.
public struct DomainRemoval: Sendable, Equatable, Codable {
    public var domain: String
    public var accounts: Int
    public var aliases: Int
    public var aliasDomains: [String]

    public init(domain: String, accounts: Int, aliases: Int, aliasDomains: [String]) {
        self.domain = domain
        self.accounts = accounts
        self.aliases = aliases
        self.aliasDomains = aliasDomains
    }
}

/// The stored credentials of one account, for authentication.
public struct StoredCredentials: Sendable, Equatable {
    public var accountID: Int64
    public var address: String
    public var passwordHash: String
    public var active: Bool
    /// SCRAM-SHA-256 secrets, `iterations,salt,StoredKey,ServerKey`; nil when none are stored.
    public var scramSHA256: String?
}
