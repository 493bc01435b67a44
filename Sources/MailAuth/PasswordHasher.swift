import NIOPosix

/// Runs password hashing and verification on a thread pool, never on an event loop: Argon2 and
/// the crypt family are deliberately slow and would stall every connection sharing the loop.
public struct PasswordHasher: Sendable {
    public let pool: NIOThreadPool
    public let parameters: Argon2Hash.Parameters

    /// Longest password accepted. SASL PLAIN carries at most a few hundred bytes in practice;
    /// the bound keeps one request from buying unbounded hashing work.
    public static let maximumPasswordBytes = 1024

    public init(pool: NIOThreadPool = .singleton, parameters: Argon2Hash.Parameters = .default) {
        self.pool = pool
        self.parameters = parameters
    }

    public func check(_ password: String, against stored: String) async throws -> PasswordCheck {
        guard password.utf8.count <= Self.maximumPasswordBytes else {
            return PasswordCheck(matched: false, scheme: PasswordScheme.parse(stored)?.scheme ?? .plain)
        }
        return try await pool.runIfActive { try PasswordVerifier.check(password, against: stored) }
    }

    public func hash(_ password: String) async throws -> String {
        guard password.utf8.count <= Self.maximumPasswordBytes else {
            throw PasswordPolicyError.tooLong(limit: Self.maximumPasswordBytes)
        }
        let parameters = self.parameters
        return try await pool.runIfActive { try PasswordVerifier.hash(password, parameters: parameters) }
    }
}
