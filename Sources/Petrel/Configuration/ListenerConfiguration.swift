import MailCore
import ServerSupport
import SMTPServer

/// One configured listener: `listeners.NAME.{address,port,tls,enabled}`. The name says the
/// protocol: smtp (MX), submission, submissions, imap, imaps, pop3, pop3s.
struct ListenerConfiguration: Sendable, Equatable {
    var name: String
    var address: String
    var port: Int
    var tls: TLSMode
    var enabled = true

    /// The SMTP role of a listener name, nil for other protocols.
    var smtpRole: SMTPRole? {
        switch name {
        case "smtp": return .mx
        case "submission", "submissions": return .submission
        default: return nil
        }
    }

    var isIMAP: Bool { name == "imap" || name == "imaps" }
    var isPOP3: Bool { name == "pop3" || name == "pop3s" }

    /// Production defaults: MX 25 (STARTTLS offered), submission 587 (STARTTLS before AUTH),
    /// submissions 465 (implicit TLS), IMAP 143 (STARTTLS) and 993 (implicit TLS), POP3 110 (STLS)
    /// and 995 (implicit TLS), on every address.
    static let production: [ListenerConfiguration] = [
        ListenerConfiguration(name: "smtp", address: "0.0.0.0", port: 25, tls: .starttls),
        ListenerConfiguration(name: "submission", address: "0.0.0.0", port: 587, tls: .starttls),
        ListenerConfiguration(name: "submissions", address: "0.0.0.0", port: 465, tls: .implicit),
        ListenerConfiguration(name: "imap", address: "0.0.0.0", port: 143, tls: .starttls),
        ListenerConfiguration(name: "imaps", address: "0.0.0.0", port: 993, tls: .implicit),
        ListenerConfiguration(name: "pop3", address: "0.0.0.0", port: 110, tls: .starttls),
        ListenerConfiguration(name: "pop3s", address: "0.0.0.0", port: 995, tls: .implicit),
    ]

    /// `make run` / `petrel dev`: loopback only, unprivileged ports.
    static let development: [ListenerConfiguration] = [
        ListenerConfiguration(name: "smtp", address: "127.0.0.1", port: 2525, tls: .starttls),
        ListenerConfiguration(name: "submission", address: "127.0.0.1", port: 2587, tls: .starttls),
        ListenerConfiguration(name: "submissions", address: "127.0.0.1", port: 2465, tls: .implicit),
        ListenerConfiguration(name: "imap", address: "127.0.0.1", port: 2143, tls: .starttls),
        ListenerConfiguration(name: "imaps", address: "127.0.0.1", port: 2993, tls: .implicit),
        ListenerConfiguration(name: "pop3", address: "127.0.0.1", port: 2110, tls: .starttls),
        ListenerConfiguration(name: "pop3s", address: "127.0.0.1", port: 2995, tls: .implicit),
    ]

    static let names = ["smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s"]
}

/// SMTP settings from `smtp.*`, and connection limits shared by the SMTP listeners.
struct SMTPSettings: Sendable {
    var maximumMessageSize = 50 * 1024 * 1024
    var maximumRecipients = 1000
    var maximumErrors = 20
    var trustedNetworks: [IPNetwork] = []
    var authOnMX = false
    var postmaster: String?
    var idleTimeoutSeconds = 300
    var commandTimeoutSeconds = 300
    var dataTimeoutSeconds = 600
    var maximumConnections = 1000
    var maximumConnectionsPerClient = 50
}

/// POP3 settings from `pop3.*`.
struct POP3Settings: Sendable {
    /// RFC 1939 §3: at least 10 minutes of inactivity before an autologout.
    var idleTimeoutSeconds = 600
    var maximumConnections = 10_000
    var maximumConnectionsPerClient = 50
}

/// IMAP settings from `imap.*`.
struct IMAPSettings: Sendable {
    /// RFC 3501 §5.4: at least 30 minutes of inactivity before an autologout.
    var idleTimeoutSeconds = 1800
    var appendLimit = 50 * 1024 * 1024
    var maximumConnections = 10_000
    var maximumConnectionsPerClient = 50
}

extension PetrelConfiguration {
    mutating func readListeners(_ reader: Values) throws {
        var listeners: [ListenerConfiguration] = []
        for defaults in ListenerConfiguration.production {
            var listener = defaults
            let key = "listeners.\(defaults.name)"
            if let address = try reader.string(key + ".address") { listener.address = address }
            if let port = try reader.int(key + ".port", 0...65535) { listener.port = port }
            if let mode = try reader.string(key + ".tls") {
                guard let parsed = TLSMode(rawValue: mode.lowercased()) else {
                    throw Invalid(key: key + ".tls", reason: "'\(mode)' is not none, starttls or implicit")
                }
                listener.tls = parsed
            }
            if let enabled = try reader.bool(key + ".enabled") { listener.enabled = enabled }
            listeners.append(listener)
        }
        self.listeners = listeners
        if let certificate = try reader.string("tls.certificate") { tlsCertificate = certificate }
        if let key = try reader.string("tls.key") { tlsKey = key }
        if (tlsCertificate == nil) != (tlsKey == nil) { throw Invalid(key: "tls", reason: "give both tls.certificate and tls.key") }
        if let n = try reader.int("smtp.max_message_size", 1024...(2 * 1024 * 1024 * 1024)) { smtp.maximumMessageSize = n }
        if let n = try reader.int("smtp.max_recipients", 1...100_000) { smtp.maximumRecipients = n }
        if let n = try reader.int("smtp.max_errors", 1...1000) { smtp.maximumErrors = n }
        if let n = try reader.int("smtp.timeout", 1...3600) { smtp.idleTimeoutSeconds = n }
        if let n = try reader.int("smtp.command_timeout", 1...3600) { smtp.commandTimeoutSeconds = n }
        if let n = try reader.int("smtp.data_timeout", 1...7200) { smtp.dataTimeoutSeconds = n }
        if let n = try reader.int("smtp.max_connections", 1...1_000_000) { smtp.maximumConnections = n }
        if let n = try reader.int("smtp.max_connections_per_client", 1...1_000_000) { smtp.maximumConnectionsPerClient = n }
        if let b = try reader.bool("smtp.auth_on_mx") { smtp.authOnMX = b }
        if let p = try reader.string("smtp.postmaster") { smtp.postmaster = p }
        if let networks = try reader.string("smtp.trusted_networks") {
            do {
                smtp.trustedNetworks = try networks.split(whereSeparator: { $0 == "," || $0 == " " })
                    .map { try IPNetwork(String($0)) }
            } catch {
                throw Invalid(key: "smtp.trusted_networks", reason: "\(error)")
            }
        }
        if let n = try reader.int("imap.timeout", 1800...86400) { imap.idleTimeoutSeconds = n }
        if let n = try reader.int("imap.append_limit", 1024...(2 * 1024 * 1024 * 1024)) { imap.appendLimit = n }
        if let n = try reader.int("imap.max_connections", 1...1_000_000) { imap.maximumConnections = n }
        if let n = try reader.int("imap.max_connections_per_client", 1...1_000_000) { imap.maximumConnectionsPerClient = n }
        if let n = try reader.int("pop3.timeout", 600...86400) { pop3.idleTimeoutSeconds = n }
        if let n = try reader.int("pop3.max_connections", 1...1_000_000) { pop3.maximumConnections = n }
        if let n = try reader.int("pop3.max_connections_per_client", 1...1_000_000) { pop3.maximumConnectionsPerClient = n }
        if let n = try reader.int("shutdown.grace", 0...3600) { shutdownGraceSeconds = n }
    }
}
