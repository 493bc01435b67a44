/// What a domain is to this installation.
public enum DomainRole: Sendable, Equatable {
    /// Mail for it is delivered to accounts here.
    case local
    /// Every address in it means the same local part in `target` (`@group.com → @baidu.com`).
    case alias(of: DomainName)
    /// A domain of ours that is switched off: nothing in it exists, but it is not external either
    /// (forwarding there would send mail back to ourselves).
    case inactive
}

/// The left-hand side of an alias: one address, or every address of a domain (`@domain`).
public enum AliasSource: Hashable, Sendable, CustomStringConvertible {
    case address(EmailAddress)
    case catchAll(DomainName)

    public var domain: DomainName {
        switch self {
        case .address(let a): return a.domain
        case .catchAll(let d): return d
        }
    }

    public var description: String {
        switch self {
        case .address(let a): return a.description
        case .catchAll(let d): return "@\(d.ascii)"
        }
    }

    /// Parses `user@domain` or `@domain`.
    public init(_ input: String) throws {
        if input.hasPrefix("@") {
            do { self = .catchAll(try DomainName(String(input.dropFirst()))) } catch let e as DomainName.Invalid {
                throw EmailAddress.Invalid.badDomain(e)
            }
        } else {
            self = .address(try EmailAddress(input))
        }
    }
}

/// The questions address resolution asks of the directory. Only active rows count: an inactive
/// domain, account or alias answers as if it did not exist.
public protocol RecipientDirectory: Sendable {
    /// nil when the domain is not ours at all (then it is external).
    func domainRole(_ domain: DomainName) async throws -> DomainRole?
    /// The targets of an active alias in an active domain, as stored (an address, or a bare local part meaning that
    /// local part in the alias's own domain); nil when there is no such alias.
    func aliasTargets(_ source: AliasSource) async throws -> [String]?
    /// Whether an active account has exactly this address.
    func isActiveAccount(_ address: EmailAddress) async throws -> Bool
}
