import Foundation
import Logging
import MailAuth
import MailStore

/// Authentication settings from `auth.*` (config/petrel.example.yaml documents each). The
/// backend of each domain is in the database (`petrel domain auth`), not here.
struct AuthSettings: Sendable {
    var throttle = LoginThrottleSettings.default
    var scram = SCRAMOffer.auto
    /// libsasl2 reads `<cyrusConfigDirectory>/<cyrusAppName>.conf`.
    var cyrusAppName = "petrel"
    var cyrusConfigDirectory: String?
}

extension PetrelConfiguration {
    mutating func readAuth(_ reader: Values) throws {
        var a = AuthSettings()
        if let on = try reader.bool("auth.throttle.enabled") { a.throttle.enabled = on }
        if let n = try reader.int("auth.throttle.account_failures", 1...100_000) { a.throttle.accountLimit = n }
        if let n = try reader.int("auth.throttle.client_failures", 1...100_000) { a.throttle.clientLimit = n }
        if let n = try reader.int("auth.throttle.window", 1...86_400) { a.throttle.window = Double(n) }
        if let n = try reader.int("auth.throttle.block", 1...86_400) { a.throttle.block = Double(n) }
        if let n = try reader.int("auth.throttle.delay_ms", 0...60_000) { a.throttle.delay = Double(n) / 1000 }
        if let n = try reader.int("auth.throttle.max_delay_ms", 0...60_000) { a.throttle.maximumDelay = Double(n) / 1000 }
        if let text = try reader.string("auth.scram") {
            guard let offer = SCRAMOffer(rawValue: text.lowercased()) else {
                throw Invalid(key: "auth.scram", reason: "'\(text)' is not one of auto, always, never")
            }
            a.scram = offer
        }
        if let name = try reader.string("auth.cyrus.app_name") {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw Invalid(key: "auth.cyrus.app_name", reason: "'\(name)' is not a plain name")
            }
            a.cyrusAppName = name
        }
        if let directory = try reader.string("auth.cyrus.config_dir"), !directory.isEmpty { a.cyrusConfigDirectory = directory }
        auth = a
    }

    /// The node's authentication service.
    func authenticator(database: Database, hasher: PasswordHasher, logger: Logger) -> Authenticator {
        CyrusSASL.shared.configure(appName: auth.cyrusAppName, configDirectory: auth.cyrusConfigDirectory)
        return Authenticator(directory: Directory(database: database), hasher: hasher, throttle: auth.throttle,
                             scram: auth.scram, logger: logger)
    }
}
