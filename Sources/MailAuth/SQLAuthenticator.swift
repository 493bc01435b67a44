import Logging
import MailCore
import MailStore

/// Checks passwords against the accounts table (the hashes in Dovecot scheme syntax). A
/// successful login with a legacy hash (anything but Argon2id) replaces it with an Argon2id
/// one, and one without SCRAM-SHA-256 secrets gets them, in the same step: imported
/// databases converge without users doing anything.
public struct SQLAuthenticator: Sendable {
    public let directory: Directory
    public let hasher: PasswordHasher
    let logger: Logger

    /// Verified when the account does not exist, so that an unknown user costs as much time as
    /// a wrong password with the configured Argon2 cost (no user enumeration by timing).
    let decoyHash: String

    public init(directory: Directory, hasher: PasswordHasher = PasswordHasher(), logger: Logger = Logger(label: "petrel.auth")) {
        self.directory = directory
        self.hasher = hasher
        self.logger = logger
        self.decoyHash = (try? PasswordVerifier.hash("petrel-decoy-\(UInt64.random(in: 0 ... .max))",
                                                     parameters: hasher.parameters)) ?? "{PLAIN}x"
    }

    /// Throws only when the database cannot answer (a temporary failure).
    public func authenticate(username: String, password: String) async throws -> LoginOutcome {
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
        if check.needsRehash || credentials.scramSHA256.flatMap(SCRAMSecrets.init(stored:)) == nil {
            await upgrade(credentials, password: password, rehash: check.needsRehash, from: check.scheme)
        }
        return .accepted(AuthenticatedUser(accountID: credentials.accountID, address: credentials.address, backend: .sql))
    }

    /// Writes the Argon2id hash (when `rehash`) and the SCRAM secrets of a password that just
    /// verified. A failure here is logged and does not fail the login.
    func upgrade(_ credentials: StoredCredentials, password: String, rehash: Bool, from scheme: PasswordScheme) async {
        do {
            let newHash = rehash ? try await hasher.hash(password) : credentials.passwordHash
            let scram = try await hasher.pool.runIfActive { try SCRAMSecrets.derive(password: password).stored }
            let replaced = try await directory.replacePasswordHash(accountID: credentials.accountID, expected: credentials.passwordHash,
                                                                   with: newHash, scramSHA256: scram)
            if replaced && rehash {
                logger.info("password rehashed at login", metadata: ["user": "\(credentials.address)",
                                                                      "from": "\(scheme.rawValue)", "to": "ARGON2ID"])
            }
        } catch {
            logger.warning("rehash at login failed", metadata: ["user": "\(credentials.address)", "error": "\(error)"])
        }
    }
}
