import Configuration
import Foundation
import Logging
import MailAuth
import MailCore
import MailStore

/// Everything a node or an admin command reads from the configuration file and environment,
/// validated once. Nothing below the `Petrel` module reads files or the environment: it is
/// handed these values.
struct PetrelConfiguration: Sendable {
    var hostname: String
    var databaseURL: DatabaseURL?
    var databaseOptions = Database.Options()
    var resolution = ResolutionLimits.default
    var argon2 = Argon2Hash.Parameters.default
    var logLevel: Logger.Level = .info
    var listeners = ListenerConfiguration.production
    var tlsCertificate: String?
    var tlsKey: String?
    var smtp = SMTPSettings()
    var imap = IMAPSettings()
    var pop3 = POP3Settings()
    var delivery = DeliverySettings()
    var auth = AuthSettings()
    /// Seconds a draining node waits for sessions to finish before closing them.
    var shutdownGraceSeconds = 30

    /// Where the configuration came from, for `petrel check`.
    var source: String

    struct Invalid: Error, CustomStringConvertible {
        var key: String
        var reason: String
        var description: String { "invalid configuration: \(key): \(reason)" }
    }

    /// Loads `path` (YAML) if given, with `PETREL_*` environment variables on top:
    /// `PETREL_DATABASE_URL` overrides `database.url`, `PETREL_DATABASE_PASSWORD` sets
    /// `database.password`, and so on (the key upper-cased, dots as underscores).
    static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> PetrelConfiguration {
        var overrides: [String: String] = [:]
        for (key, value) in environment where key.hasPrefix("PETREL_") {
            overrides[String(key.dropFirst("PETREL_".count))] = value
        }
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: overrides,
                                         secretsSpecifier: .specific(["DATABASE_PASSWORD", "DATABASE_URL"])),
        ]
        if let path {
            guard FileManager.default.fileExists(atPath: path) else {
                throw Invalid(key: "--config", reason: "no file at \(path)")
            }
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: .init(path)))
            } catch {
                throw Invalid(key: path, reason: "not valid YAML: \(error)")
            }
        }
        let reader = ConfigReader(providers: providers)
        return try PetrelConfiguration(reader: Values(reader: reader), source: path ?? "defaults and environment")
    }

    init(reader: Values, source: String) throws {
        self.source = source
        self.hostname = try reader.string("hostname") ?? ProcessInfo.processInfo.hostName
        if let url = try reader.string("database.url") {
            do { self.databaseURL = try DatabaseURL(parsing: url) } catch { throw Invalid(key: "database.url", reason: "\(error)") }
        }
        if let password = try reader.string("database.password", secret: true) {
            guard databaseURL != nil else { throw Invalid(key: "database.password", reason: "set database.url too") }
            databaseURL?.password = password
        }
        if let n = try reader.int("database.max_connections", 1...1000) { databaseOptions.maximumConnections = n }
        if let n = try reader.int("database.connect_timeout", 1...300) { databaseOptions.connectTimeout = .seconds(n) }
        if let n = try reader.int("database.request_timeout", 1...3600) { databaseOptions.requestTimeout = .seconds(n) }
        if let d = try reader.string("directory.recipient_delimiter") {
            guard d.count <= 8, d.allSatisfy({ $0.isASCII && !$0.isLetter && !$0.isNumber && $0 != "@" && $0 != "." && !$0.isWhitespace }) else {
                throw Invalid(key: "directory.recipient_delimiter", reason: "give up to 8 punctuation characters such as \"+\" or \"+-\", or \"\" to turn subaddresses off")
            }
            resolution.subaddressDelimiters = Set(d)
        }
        if let n = try reader.int("directory.max_alias_depth", 1...100) { resolution.maximumDepth = n }
        if let n = try reader.int("directory.max_alias_targets", 1...100_000) { resolution.maximumTargets = n }
        if let n = try reader.int("passwords.argon2.memory_kib", 8...4_194_304) { argon2.memoryKiB = UInt32(n) }
        if let n = try reader.int("passwords.argon2.iterations", 1...100) { argon2.iterations = UInt32(n) }
        if let n = try reader.int("passwords.argon2.parallelism", 1...64) { argon2.parallelism = UInt32(n) }
        if let level = try reader.string("log.level") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw Invalid(key: "log.level", reason: "'\(level)' is not one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = parsed
        }
        try readListeners(reader)
        try readDelivery(reader)
        try readAuth(reader)
    }

    /// Typed access that tells a missing key (nil) from a present but unusable one (an error
    /// naming the key).
    struct Values {
        let reader: ConfigReader

        func string(_ key: String, secret: Bool = false) throws -> String? {
            reader.string(forKey: ConfigKey(key), isSecret: secret)
        }

        func bool(_ key: String) throws -> Bool? {
            if let value = reader.bool(forKey: ConfigKey(key)) { return value }
            guard let raw = reader.string(forKey: ConfigKey(key)) else { return nil }
            switch raw.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: throw Invalid(key: key, reason: "'\(raw)' is not true or false")
            }
        }

        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int? {
            let configKey = ConfigKey(key)
            guard let value = reader.int(forKey: configKey) else {
                if let raw = reader.string(forKey: configKey) {
                    throw Invalid(key: key, reason: "'\(raw)' is not a whole number")
                }
                return nil
            }
            guard range.contains(value) else {
                throw Invalid(key: key, reason: "\(value) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            return value
        }
    }
}
