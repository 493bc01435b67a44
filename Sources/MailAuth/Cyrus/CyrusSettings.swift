import Foundation

/// A domain's Cyrus SASL backend, as stored in `domain_auth.settings`. Where libsasl2 reads its
/// own configuration (`pwcheck_method: saslauthd`, `saslauthd_path`, …) is node-wide:
/// ``CyrusSASL/configure(appName:configDirectory:)``.
public struct CyrusSettings: Codable, Sendable, Equatable {
    /// The service name given to libsasl2 (saslauthd passes it to PAM); default the protocol's
    /// ("smtp", "imap", "pop3").
    public var service: String?
    /// The realm for the user (saslauthd `-r` splits `user@realm` itself); default none.
    public var realm: String?
    /// How the login name is passed: `address` (default, `user@domain`) or `local_part`
    /// (`user`, for PAM or shadow users of this host).
    public var username: String?

    public init(service: String? = nil, realm: String? = nil, username: String? = nil) {
        self.service = service
        self.realm = realm
        self.username = username
    }

    public var passesLocalPart: Bool { username == "local_part" }

    public func problem() -> String? {
        if let username, !["address", "local_part"].contains(username) { return "username must be address or local_part" }
        if let service, service.isEmpty || service.count > 64 || service.contains(where: { !$0.isLetter && !$0.isNumber && $0 != "-" }) {
            return "service must be a short name such as smtp"
        }
        return nil
    }

    public static func decode(json: String) throws -> CyrusSettings {
        try JSONDecoder().decode(CyrusSettings.self, from: Data(json.utf8))
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
