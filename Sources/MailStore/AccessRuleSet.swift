import MailCore

/// Every access rule at one moment, in memory, answering as `Directory.clientAccess` and
/// `Directory.addressAccess` answer from the table: the client rule of the longest network
/// holding the address, and the address rule of the most specific pattern (`user@domain`, then
/// `@domain`, then `user@`). Kept by `AccessRuleCache`.
public struct AccessRuleSet: Sendable {
    /// Client rules, longest prefix first.
    private let clients: [(network: IPNetwork, rule: AccessRule)]
    /// Sender and recipient rules by kind, then by pattern.
    private let addresses: [AccessRuleKind: [String: AccessRule]]

    /// nil when a client rule's network cannot be read (never for what PostgreSQL's cidr
    /// type stores): then only the database can answer.
    public init?(_ rules: [AccessRule]) {
        var clients: [(network: IPNetwork, rule: AccessRule)] = []
        var addresses: [AccessRuleKind: [String: AccessRule]] = [:]
        for rule in rules {
            if rule.kind == .client {
                guard let network = try? IPNetwork(rule.pattern) else { return nil }
                clients.append((network, rule))
            } else {
                addresses[rule.kind, default: [:]][rule.pattern] = rule
            }
        }
        // Two patterns can name one network (`10.0.0.1` and `10.0.0.1/32`): the older wins.
        self.clients = clients.sorted {
            ($0.network.prefixLength, -$0.rule.id) > ($1.network.prefixLength, -$1.rule.id)
        }
        self.addresses = addresses
    }

    public var count: Int { clients.count + addresses.values.reduce(0) { $0 + $1.count } }

    /// The most specific client rule whose network holds `ip`. An IPv4-mapped IPv6 address
    /// (`::ffff:192.0.2.1`) is the IPv4 address it carries.
    public func client(ip: String) -> AccessRule? {
        guard !clients.isEmpty, let bytes = IPNetwork.parseAddress(ip) else { return nil }
        return clients.first { $0.network.contains(bytes: bytes) }?.rule
    }

    /// The rule of `kind` (sender or recipient) for an address, Postfix order.
    public func address(_ kind: AccessRuleKind, _ address: String) -> AccessRule? {
        guard let rules = addresses[kind], !rules.isEmpty,
              let (exact, domain, user) = Directory.accessPatterns(address) else { return nil }
        return rules[exact] ?? rules[domain] ?? rules[user]
    }
}
