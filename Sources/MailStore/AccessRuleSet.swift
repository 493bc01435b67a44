import MailCore

/// Every access rule at one moment, in memory, answering as `Directory.clientAccess` and
/// `Directory.addressAccess` answer from the table: the client rule of the longest network
/// holding the address (of two patterns naming one network, the older), and the address rule
/// of the most specific pattern (`user@domain`, then `@domain`, then `user@`). Patterns are
/// compared byte for byte, as PostgreSQL compares text. Kept by `AccessRuleCache`.
public struct AccessRuleSet: Sendable {
    /// Client rules by address length (4 or 16 bytes), then by prefix length, longest first:
    /// each a table from the network's masked address to its rule.
    private let clients: [Int: [(prefixLength: Int, rules: [[UInt8]: AccessRule])]]
    /// Sender and recipient rules by kind, then by pattern's bytes.
    private let addresses: [AccessRuleKind: [[UInt8]: AccessRule]]
    public let count: Int

    /// nil when a client rule's network cannot be read (never for what PostgreSQL's cidr
    /// type stores): then only the database can answer.
    public init?(_ rules: [AccessRule]) {
        var networks: [Int: [Int: [[UInt8]: AccessRule]]] = [:]
        var addresses: [AccessRuleKind: [[UInt8]: AccessRule]] = [:]
        for rule in rules.sorted(by: { $0.id < $1.id }) {
            if rule.kind == .client {
                // An IPv4-mapped IPv6 network is the IPv4 network (a mapped client is too).
                guard let network = (try? IPNetwork(rule.pattern))?.unmapped else { return nil }
                if networks[network.address.count, default: [:]][network.prefixLength, default: [:]][network.address] == nil {
                    networks[network.address.count, default: [:]][network.prefixLength, default: [:]][network.address] = rule
                }
            } else {
                addresses[rule.kind, default: [:]][Array(rule.pattern.utf8)] = rule
            }
        }
        clients = networks.mapValues { byLength in
            byLength.map { (prefixLength: $0.key, rules: $0.value) }.sorted { $0.prefixLength > $1.prefixLength }
        }
        self.addresses = addresses
        count = rules.count
    }

    /// The most specific client rule whose network holds `ip`. An IPv4-mapped IPv6 address
    /// (`::ffff:192.0.2.1`) is the IPv4 address it carries.
    public func client(ip: String) -> AccessRule? {
        guard !clients.isEmpty, let text = IPNetwork.unmappedAddress(ip), let bytes = IPNetwork.parseAddress(text),
              let groups = clients[bytes.count] else { return nil }
        for group in groups {
            if let rule = group.rules[IPNetwork.masked(bytes, group.prefixLength)] { return rule }
        }
        return nil
    }

    /// The rule of `kind` (sender or recipient) for an address, Postfix order.
    public func address(_ kind: AccessRuleKind, _ address: String) -> AccessRule? {
        guard let rules = addresses[kind], !rules.isEmpty,
              let (exact, domain, user) = Directory.accessPatterns(address) else { return nil }
        return rules[Array(exact.utf8)] ?? rules[Array(domain.utf8)] ?? rules[Array(user.utf8)]
    }
}
