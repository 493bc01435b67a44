/// The outcome of resolving one recipient: where mail to it goes, and how that was decided.
public struct Resolution: Sendable, Equatable {
    /// Accounts here that receive a copy, each once, in the order found.
    public var local: [EmailAddress] = []
    /// Addresses elsewhere that receive a copy (forwarding), each once.
    public var external: [EmailAddress] = []
    /// Targets in local domains that matched nothing (or could not be parsed): they get no copy.
    public var unresolved: [String] = []
    /// The path that led there, one step per line, like `postmap -q` but with the reasons.
    public var trace: [Step] = []

    /// False when mail to the address has nowhere to go: SMTP answers `550 5.1.1`.
    public var isDeliverable: Bool { !local.isEmpty || !external.isEmpty }

    public struct Step: Sendable, Equatable, CustomStringConvertible {
        public var depth: Int
        public var address: String
        public var rule: Rule

        public var description: String {
            String(repeating: "  ", count: depth) + "\(address): \(rule)"
        }
    }

    public enum Rule: Sendable, Equatable, CustomStringConvertible {
        case alias(targets: [String])
        case catchAll(domain: DomainName, targets: [String])
        case domainAlias(from: DomainName, to: DomainName)
        case subaddress(base: EmailAddress)
        case account
        case external
        case unknown
        case invalidTarget
        case keptCopy
        case loop

        public var description: String {
            switch self {
            case .alias(let t): return "alias -> \(t.joined(separator: ", "))"
            case .catchAll(let d, let t): return "catch-all @\(d.ascii) -> \(t.joined(separator: ", "))"
            case .domainAlias(let f, let t): return "domain alias \(f.ascii) -> \(t.ascii)"
            case .subaddress(let b): return "subaddress of \(b)"
            case .account: return "local account"
            case .external: return "external address"
            case .unknown: return "unknown (no account or alias)"
            case .invalidTarget: return "invalid alias target, skipped"
            case .keptCopy: return "alias lists itself: a copy is kept"
            case .loop: return "alias loop: expansion stops here"
            }
        }
    }
}

public enum ResolutionError: Error, Equatable, CustomStringConvertible {
    case tooDeep(limit: Int, path: [String])
    case tooManyTargets(limit: Int)

    public var description: String {
        switch self {
        case .tooDeep(let limit, let path):
            return "alias expansion nests deeper than \(limit) levels: \(path.joined(separator: " -> "))"
        case .tooManyTargets(let limit):
            return "alias expansion reaches more than \(limit) targets"
        }
    }
}
