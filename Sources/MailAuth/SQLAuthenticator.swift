import MailCore
import MailStore

/// The result of a login attempt.
public enum AuthenticationOutcome: Sendable, Equatable {
    /// The password is right for an active account.
    case accepted(account: Int64, address: String, scheme: PasswordScheme)
    /// Wrong password, unknown or disabled account: callers answer all three the same way so
    /// that a client cannot tell which (`reason` is for logs and `petrel auth test` only).
    case rejected(reason: String)
}

/// Checks passwords against the accounts table (the hashes in Dovecot scheme syntax).
public struct SQLAuthenticator: Sendable {
    public let directory: Directory
    public let hasher: PasswordHasher

    /// Verified when the account does not exist, so that an unknown user costs as much time as
    /// a wrong password with the configured Argon2 cost (no user enumeration by timing).
    let decoyHash: String

    public init(directory: Directory, hasher: PasswordHasher = PasswordHasher()) {
        self.directory = directory
        self.hasher = hasher
        self.decoyHash = (try? PasswordVerifier.hash("petrel-decoy-\(UInt64.random(in: 0 ... .max))",
                                                     parameters: hasher.parameters)) ?? "{PLAIN}x"
    }

    public func authenticate(username: String, password: String) async throws -> AuthenticationOutcome {
        guard let address = try? EmailAddress(username) else {
            _ = try? await hasher.check(password, against: decoyHash)
            return .rejected(reason: "not a valid address")
        }
        guard let credentials = try await directory.credentials(address) else {
            _ = try? await hasher.check(password, against: decoyHash)
            return .rejected(reason: "no such account")
        }
        let check: PasswordCheck
        do {
            check = try await hasher.check(password, against: credentials.passwordHash)
        } catch let error as UnsupportedPasswordScheme {
            return .rejected(reason: "\(error)")
        }
        guard check.matched else { return .rejected(reason: "wrong password (stored as \(check.scheme.rawValue))") }
        guard credentials.active else { return .rejected(reason: "account or domain disabled") }
        return .accepted(account: credentials.accountID, address: credentials.address, scheme: check.scheme)
    }
}
