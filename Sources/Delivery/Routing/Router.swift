import Foundation

/// Where mail for a domain goes (RFC 5321 §5.1): a per-domain transport or the relay host when
/// one is configured, otherwise the domain's MX hosts by preference (random among equal ones),
/// the domain itself when it has no MX (the implicit MX), and nowhere for a null MX (RFC 7505).
public struct Router: Sendable {
    public struct Settings: Sendable {
        /// The port MX hosts are reached on (25; tests use their own).
        public var port = 25
        /// `relayhost`: all outbound mail goes there.
        public var relayHost: NextHopSpec?
        /// Per-domain overrides (lower-case domain → next hop), like Postfix's transport(5).
        public var transports: [String: NextHopSpec] = [:]

        public init() {}
    }

    /// A next hop as an administrator writes it: `[host]:port` (that host, no MX lookup) or
    /// `host:port` / `host` (the host's MX records). With optional credentials and TLS policy.
    public struct NextHopSpec: Sendable, Equatable {
        public var host: String
        public var port: Int?
        public var lookUpMX: Bool
        public var username: String?
        public var password: String?
        public var tls: TLSPolicy = .may

        public init(parsing text: String) throws {
            var rest = Substring(text.trimmingCharacters(in: .whitespaces))
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]") else { throw RouteError("'\(text)': no closing ]") }
                host = String(rest[rest.index(after: rest.startIndex)..<close])
                lookUpMX = false
                rest = rest[rest.index(after: close)...]
            } else {
                let colon = rest.lastIndex(of: ":") ?? rest.endIndex
                host = String(rest[..<colon])
                lookUpMX = true
                rest = rest[colon...]
            }
            if rest.hasPrefix(":") {
                guard let port = Int(rest.dropFirst()), (1...65535).contains(port) else {
                    throw RouteError("'\(text)': not a port after the colon")
                }
                self.port = port
            } else if !rest.isEmpty {
                throw RouteError("'\(text)': unexpected '\(rest)'")
            }
            guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:_".contains($0)) }) else {
                throw RouteError("'\(text)': not a host name or address")
            }
        }
    }

    /// `may`: STARTTLS when offered, certificate not checked (Postfix's opportunistic TLS);
    /// `encrypt`: STARTTLS required; `none`: never.
    public enum TLSPolicy: String, Sendable { case none, may, encrypt }

    public struct RouteError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// One host to try, with its addresses in the order to try them.
    public struct Hop: Sendable, Equatable {
        public var host: String
        public var addresses: [String]
        public var port: Int
        public var username: String?
        public var password: String?
        public var tls: TLSPolicy
    }

    public enum Plan: Sendable, Equatable {
        case hops([Hop])
        /// Mail for this domain cannot be delivered (unknown domain, null MX, no address): an
        /// SMTP-style reply for the bounce ("550 5.1.2 …").
        case permanentFailure(String)
        /// DNS did not answer; try later.
        case temporaryFailure(String)
    }

    public let settings: Settings
    public let resolver: DNSResolver

    public init(settings: Settings, resolver: DNSResolver) {
        self.settings = settings
        self.resolver = resolver
    }

    /// The hops for `domain` (ASCII, lower-case), in order.
    public func plan(for domain: String) async -> Plan {
        do {
            if let spec = settings.transports[domain] ?? settings.relayHost {
                return try await hops(for: spec)
            }
            return try await mxHops(domain: domain, port: settings.port, template: nil)
        } catch let failure as DNSResolver.Failure {
            return .temporaryFailure(failure.description)
        } catch {
            return .temporaryFailure("\(error)")
        }
    }

    func hops(for spec: NextHopSpec) async throws -> Plan {
        let port = spec.port ?? settings.port
        if spec.lookUpMX { return try await mxHops(domain: spec.host.lowercased(), port: port, template: spec) }
        let addresses = try await addresses(of: spec.host)
        guard !addresses.isEmpty else { return .temporaryFailure("relay host \(spec.host) has no address") }
        return .hops([Hop(host: spec.host, addresses: addresses, port: port, username: spec.username,
                          password: spec.password, tls: spec.tls)])
    }

    func mxHops(domain: String, port: Int, template: NextHopSpec?) async throws -> Plan {
        let answer = try await resolver.query(domain, .mx)
        if answer.responseCode == 3 { return .permanentFailure("550 5.1.2 Host or domain name not found: \(domain)") }
        var exchanges = answer.answers.compactMap { record -> (UInt16, String)? in
            if case .mx(let preference, let exchange) = record.data { return (preference, exchange) }
            return nil
        }
        // RFC 7505 §3: a single MX of "." is a null MX: the domain accepts no mail.
        if exchanges.count == 1, exchanges[0].1.isEmpty {
            return .permanentFailure("556 5.1.10 Domain \(domain) does not accept mail (null MX, RFC 7505)")
        }
        exchanges.removeAll { $0.1.isEmpty }
        if exchanges.isEmpty {
            // §5.1: no MX records: the domain itself is the implicit MX.
            exchanges = [(0, domain)]
        }
        // Lowest preference first, random order among equal preferences.
        let ordered = exchanges.shuffled().sorted { $0.0 < $1.0 }.map(\.1)
        var hops: [Hop] = []
        var lookupFailure: String?
        for host in ordered {
            do {
                let addresses = try await addresses(of: host)
                if !addresses.isEmpty {
                    hops.append(Hop(host: host, addresses: addresses, port: port, username: template?.username,
                                    password: template?.password, tls: template?.tls ?? .may))
                }
            } catch {
                lookupFailure = "\(error)"
            }
        }
        if hops.isEmpty {
            if let lookupFailure { return .temporaryFailure(lookupFailure) }
            return .permanentFailure("550 5.1.2 No address for the mail exchangers of \(domain)")
        }
        return .hops(hops)
    }

    /// A literal address as it is; otherwise the host's A, then AAAA, records (CNAMEs are
    /// followed by the recursive server: only the final address records are taken).
    func addresses(of host: String) async throws -> [String] {
        if host.split(separator: ".").count == 4, host.split(separator: ".").allSatisfy({ UInt8($0) != nil }) { return [host] }
        if host.contains(":") { return [host] }
        var out: [String] = []
        for type in [DNSRecordType.a, .aaaa] {
            let answer = try await resolver.query(host, type)
            for record in answer.answers {
                switch record.data {
                case .a(let address), .aaaa(let address): out.append(address)
                default: break
                }
            }
            if answer.responseCode == 3 { break }
        }
        return out
    }
}
