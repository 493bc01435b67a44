import Crypto
import _CryptoExtras
import Foundation

/// What the server keeps for SCRAM-SHA-256 (RFC 5802 §3, RFC 7677): never the password, only
/// the salt, the iteration count, StoredKey = H(ClientKey) and ServerKey. Stored in Dovecot's
/// `{SCRAM-SHA-256}` layout, `iterations,salt,StoredKey,ServerKey` (base64), in
/// `accounts.scram_sha256`.
public struct SCRAMSecrets: Sendable, Equatable {
    public var iterations: Int
    public var salt: [UInt8]
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    /// RFC 7677 §4: at least 4096 iterations (Dovecot's default too).
    public static let defaultIterations = 4096
    /// Iteration counts outside this range are refused when parsing a stored value: a client
    /// must repeat the work, and an absurd count would be a denial of service on both sides.
    public static let iterationRange = 4096 ... 1_000_000

    public init(iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Derives the secrets of `password` (SASLprep'd) with a fresh 16-byte salt.
    public static func derive(password: String, iterations: Int = defaultIterations) throws -> SCRAMSecrets {
        var salt = [UInt8](repeating: 0, count: 16)
        for i in salt.indices { salt[i] = UInt8.random(in: 0 ... 255) }
        return try derive(password: password, salt: salt, iterations: iterations)
    }

    /// RFC 5802 §3: SaltedPassword = Hi(Normalize(password), salt, i); ClientKey =
    /// HMAC(SaltedPassword, "Client Key"); StoredKey = H(ClientKey); ServerKey =
    /// HMAC(SaltedPassword, "Server Key").
    public static func derive(password: String, salt: [UInt8], iterations: Int) throws -> SCRAMSecrets {
        let salted = try saltedPassword(password: password, salt: salt, iterations: iterations)
        let clientKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: salted))
        let serverKey = Array(HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: salted))
        return SCRAMSecrets(iterations: iterations, salt: salt, storedKey: Array(SHA256.hash(data: clientKey)), serverKey: serverKey)
    }

    /// Hi() of RFC 5802 §2.2 is PBKDF2 with HMAC as the PRF and the hash's length as dkLen.
    static func saltedPassword(password: String, salt: [UInt8], iterations: Int) throws -> SymmetricKey {
        try KDF.Insecure.PBKDF2.deriveKey(from: Array(SASLprep.prepare(password).utf8), salt: salt, using: .sha256,
                                          outputByteCount: SHA256.byteCount, unsafeUncheckedRounds: iterations)
    }

    /// `iterations,salt,StoredKey,ServerKey`, each binary field in base64.
    public var stored: String {
        "\(iterations),\(Data(salt).base64EncodedString()),\(Data(storedKey).base64EncodedString()),\(Data(serverKey).base64EncodedString())"
    }

    /// Parses `stored`; nil for anything malformed (then SCRAM fails for that account as for a
    /// wrong password, and the next plaintext login writes fresh secrets).
    public init?(stored: String) {
        let fields = stored.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count == 4, let iterations = Int(fields[0]), Self.iterationRange.contains(iterations),
              let salt = Data(base64Encoded: String(fields[1])), !salt.isEmpty,
              let storedKey = Data(base64Encoded: String(fields[2])), storedKey.count == SHA256.byteCount,
              let serverKey = Data(base64Encoded: String(fields[3])), serverKey.count == SHA256.byteCount else { return nil }
        self.init(iterations: iterations, salt: Array(salt), storedKey: Array(storedKey), serverKey: Array(serverKey))
    }
}
