import Delivery
import Foundation
import NIOCore

/// Outbound delivery settings from `delivery.*` (config/petrel.example.yaml documents each).
struct DeliverySettings: Sendable {
    /// Whether this node runs queue workers.
    var enabled = true
    var routing = Router.Settings()
    /// Recursive nameservers ("address" or "address:port"); empty: those of /etc/resolv.conf.
    var nameservers: [SocketAddress] = []
    var retrySchedule: [Duration]?
    var maximumAge: Duration?
    var leaseSeconds = 1800
    var pollSeconds = 5
    var concurrency = 10
    var batchSize = 100
    var connectTimeoutSeconds = 30
    var commandTimeoutSeconds = 300
    var destinationConcurrency = 20
    var destinationRateDelay: Duration = .zero
    var connectionReuse = true
    /// nil: no delay warnings.
    var delayWarning: Duration?
}

extension PetrelConfiguration {
    mutating func readDelivery(_ reader: Values) throws {
        var d = DeliverySettings()
        if let enabled = try reader.bool("delivery.enabled") { d.enabled = enabled }
        if let n = try reader.int("delivery.port", 1...65535) { d.routing.port = n }
        if let text = try reader.string("delivery.nameservers") {
            d.nameservers = try Self.list(text).map { entry in
                guard let address = Self.socketAddress(entry, defaultPort: 53) else {
                    throw Invalid(key: "delivery.nameservers", reason: "'\(entry)' is not an IP address or address:port")
                }
                return address
            }
        }
        if let text = try reader.string("delivery.relay_host"), !text.isEmpty {
            do { d.routing.relayHost = try Router.NextHopSpec(parsing: text) } catch {
                throw Invalid(key: "delivery.relay_host", reason: "\(error)")
            }
            d.routing.relayHost?.username = try reader.string("delivery.relay_username")
            d.routing.relayHost?.password = try reader.string("delivery.relay_password", secret: true)
            if let tls = try reader.string("delivery.relay_tls") {
                guard let policy = Router.TLSPolicy(rawValue: tls) else {
                    throw Invalid(key: "delivery.relay_tls", reason: "'\(tls)' is not none, may or encrypt")
                }
                d.routing.relayHost?.tls = policy
            }
        }
        if let text = try reader.string("delivery.transports") {
            for entry in Self.list(text) {
                let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw Invalid(key: "delivery.transports", reason: "'\(entry)' is not domain=[host]:port") }
                do { d.routing.transports[parts[0].lowercased()] = try Router.NextHopSpec(parsing: parts[1]) } catch {
                    throw Invalid(key: "delivery.transports", reason: "\(error)")
                }
            }
        }
        if let text = try reader.string("delivery.retry_schedule") {
            d.retrySchedule = try Self.list(text).map { try Self.duration($0, key: "delivery.retry_schedule") }
        }
        if let text = try reader.string("delivery.maximum_age") { d.maximumAge = try Self.duration(text, key: "delivery.maximum_age") }
        if let n = try reader.int("delivery.lease", 5...86400) { d.leaseSeconds = n }
        if let n = try reader.int("delivery.batch_size", 1...10000) { d.batchSize = n }
        if let n = try reader.int("delivery.poll_interval", 1...3600) { d.pollSeconds = n }
        if let n = try reader.int("delivery.concurrency", 1...1000) { d.concurrency = n }
        if let n = try reader.int("delivery.connect_timeout", 1...600) { d.connectTimeoutSeconds = n }
        if let n = try reader.int("delivery.command_timeout", 1...3600) { d.commandTimeoutSeconds = n }
        if let n = try reader.int("delivery.destination_concurrency", 1...1000) { d.destinationConcurrency = n }
        if let text = try reader.string("delivery.destination_rate_delay"), text != "0" {
            d.destinationRateDelay = try Self.duration(text, key: "delivery.destination_rate_delay")
        }
        if let reuse = try reader.bool("delivery.connection_reuse") { d.connectionReuse = reuse }
        if let text = try reader.string("delivery.delay_warning"), text != "0" {
            d.delayWarning = try Self.duration(text, key: "delivery.delay_warning")
        }
        delivery = d
    }

    static func list(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }).map(String.init)
    }

    /// "30s", "5m", "2h", "5d", or plain seconds.
    static func duration(_ text: String, key: String) throws -> Duration {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var number = Substring(text)
        var unit: Int64 = 1
        if let last = text.last, let u = units[last] {
            unit = u
            number = number.dropLast()
        }
        guard let n = Int64(number), n > 0 else { throw Invalid(key: key, reason: "'\(text)' is not a duration such as 30s, 5m, 2h or 5d") }
        return .seconds(n * unit)
    }

    /// "1.2.3.4", "1.2.3.4:53", "::1", "[::1]:53".
    static func socketAddress(_ text: String, defaultPort: Int) -> SocketAddress? {
        var host = text
        var port = defaultPort
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if rest.hasPrefix(":") { guard let p = Int(rest.dropFirst()) else { return nil }; port = p }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = String(text[..<colon])
            guard let p = Int(text[text.index(after: colon)...]) else { return nil }
            port = p
        }
        return try? SocketAddress(ipAddress: host, port: port)
    }

    /// The nameservers of /etc/resolv.conf.
    static func systemNameservers() -> [SocketAddress] {
        guard let text = try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0] == "nameserver" else { return nil }
            return try? SocketAddress(ipAddress: String(words[1]), port: 53)
        }
    }
}
