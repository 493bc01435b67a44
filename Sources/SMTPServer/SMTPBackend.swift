import MailAuth
import MailCore
import MailStore

/// An authenticated client.
public struct SMTPLogin: Sendable, Equatable {
    public var accountID: Int64
    public var address: String

    public init(accountID: Int64, address: String) {
        self.accountID = accountID
        self.address = address
    }
}

/// Where mail to one RCPT goes.
public enum RecipientRoute: Sendable, Equatable {
    /// A local or alias domain, resolved: accounts here, and forwarding targets elsewhere.
    case local(accounts: [DeliveryAccount], external: [String])
    /// A local or alias domain, but nobody by that name.
    case unknown
    /// Not one of ours: relaying.
    case remote
    /// The alias expansion broke a limit (depth, fan-out).
    case expansionFailed(String)
}

/// What an SMTP session asks of the rest of Petrel. Errors thrown are temporary failures
/// (`451 4.3.0`, `454 4.7.0`); the session never turns one into a 5xx.
public protocol SMTPBackend: Sendable {
    /// Logins: the domains' backends, throttling, SCRAM (MailAuth's ``Authenticator``).
    var logins: any LoginService { get }
    /// MAIL FROM's access rules: the client's (`clientIP` nil when the session has it already)
    /// and the sender's (nil for the null sender).
    func mailAccess(clientIP: String?, sender: String?) async throws -> (client: AccessRule?, sender: AccessRule?)
    /// RCPT TO's recipient access rule and where mail to `mailbox` goes.
    func recipient(_ mailbox: SMTPMailbox) async throws -> (rule: AccessRule?, route: RecipientRoute)
    /// Whether the account may use `sender` as its envelope sender: its own address, or one
    /// that resolves to it (an alias, a subaddress).
    func owns(_ login: SMTPLogin, sender: SMTPMailbox) async throws -> Bool
    /// Stores and queues in one transaction; returns after COMMIT.
    func accept(_ message: InboundMessage) async throws -> [StoredMessage]
}

/// The backend over PostgreSQL: the directory, the SQL authenticator, the message store.
public struct StoreSMTPBackend: SMTPBackend {
    public let directory: Directory
    public let store: MessageStore
    public let authenticator: Authenticator
    public let limits: ResolutionLimits
    /// Accepts share transactions under load (group commit).
    public let commits: GroupCommit
    /// The node's copy of the access rules (nil: ask the database at every MAIL and RCPT).
    public let accessRules: AccessRuleCache?

    public var logins: any LoginService { authenticator }

    public init(database: Database, authenticator: Authenticator, limits: ResolutionLimits,
                accessRules: AccessRuleCache? = nil) {
        directory = Directory(database: database)
        store = MessageStore(database: database)
        commits = GroupCommit(store: store)
        self.authenticator = authenticator
        self.limits = limits
        self.accessRules = accessRules
    }

    /// With the default authentication settings (throttling on, SCRAM when possible).
    public init(database: Database, hasher: PasswordHasher, limits: ResolutionLimits, accessRules: AccessRuleCache? = nil) {
        self.init(database: database, authenticator: Authenticator(directory: Directory(database: database), hasher: hasher),
                  limits: limits, accessRules: accessRules)
    }

    /// The rules in memory, when the node holds a current copy.
    private func cachedRules() async throws -> AccessRuleSet? {
        try await accessRules?.rules(from: directory)
    }

    public func mailAccess(clientIP: String?, sender: String?) async throws -> (client: AccessRule?, sender: AccessRule?) {
        // An address PostgreSQL's inet would refuse (it never is: it comes from the socket) has
        // no rule; an IPv4-mapped IPv6 address is the IPv4 address it carries.
        let ip = clientIP.flatMap(IPNetwork.unmappedAddress)
        guard ip != nil || sender != nil else { return (nil, nil) }
        if let rules = try await cachedRules() {
            return (ip.flatMap(rules.client(ip:)), sender.flatMap { rules.address(.sender, $0) })
        }
        return try await directory.mailAccess(ip: ip, sender: sender)
    }

    /// The recipient rule for an address, from memory when the node holds the rules.
    private func recipientRule(_ address: String) async throws -> AccessRule? {
        if let rules = try await cachedRules() { return rules.address(.recipient, address) }
        return try await directory.addressAccess(.recipient, address: address)
    }

    public func recipient(_ mailbox: SMTPMailbox) async throws -> (rule: AccessRule?, route: RecipientRoute) {
        let text = mailbox.description
        guard !mailbox.isAddressLiteral, let domain = try? DomainName(mailbox.domain) else {
            return (try await recipientRule(text), .remote)
        }
        let address = mailbox.needsQuoting ? nil : try? EmailAddress(localPart: mailbox.localPart, domain: domain)
        // The common case in one query: a plain account address, with the access rule unless
        // the node holds the rules.
        if let address, address.withoutSubaddress(delimiters: limits.subaddressDelimiters) == nil {
            let cached = try await cachedRules()
            var (delivery, rule) = try await directory.recipientLookup(address, ruleFor: cached == nil ? text : nil)
            if let cached { rule = cached.address(.recipient, text) }
            switch delivery {
            case .notOurs: return (rule, .remote)
            case .account(let account): return (rule, .local(accounts: [account], external: []))
            case .resolve: return (rule, try await resolve(address))
            }
        }
        let rule = try await recipientRule(text)
        guard try await directory.domainRole(domain) != nil else { return (rule, .remote) }
        guard let address else { return (rule, .unknown) }
        return (rule, try await resolve(address))
    }

    /// The full resolver, for an address in one of our domains. Nobody by that name: in an
    /// LDAP domain, a user (or an alternate address) of the directory gets an account here
    /// now, and the address is resolved again.
    func resolve(_ address: EmailAddress) async throws -> RecipientRoute {
        let route = try await resolveHere(address)
        guard route == .unknown else { return route }
        let base = address.withoutSubaddress(delimiters: limits.subaddressDelimiters) ?? address
        guard try await authenticator.provisionRecipient(base) else { return route }
        return try await resolveHere(address)
    }

    func resolveHere(_ address: EmailAddress) async throws -> RecipientRoute {
        switch try await directory.localRecipients(address, limits: limits) {
        case .deliver(let accounts, let external): return .local(accounts: accounts, external: external)
        case .unknown: return .unknown
        case .expansionFailed(let reason): return .expansionFailed(reason)
        }
    }

    public func owns(_ login: SMTPLogin, sender: SMTPMailbox) async throws -> Bool {
        guard !sender.needsQuoting, !sender.isAddressLiteral, let domain = try? DomainName(sender.domain),
              let address = try? EmailAddress(localPart: sender.localPart, domain: domain) else { return false }
        if address.description == login.address { return true }
        guard try await directory.domainRole(domain) != nil else { return false }
        let resolution = try? await AddressResolver(directory: directory, limits: limits).resolve(address)
        return resolution?.local.contains { $0.description == login.address } ?? false
    }

    public func accept(_ message: InboundMessage) async throws -> [StoredMessage] {
        try await commits.accept(message)
    }
}
