import CArgon2
import Crypto
import Foundation
import MailCore

/// The outcome of checking a password against a stored hash.
public struct PasswordCheck: Sendable, Equatable {
    public var matched: Bool
    /// The scheme of the stored hash.
    public var scheme: PasswordScheme
    /// True when the password matched a legacy hash that should be replaced by Argon2id.
    public var needsRehash: Bool { matched && scheme.isLegacy }

    public init(matched: Bool, scheme: PasswordScheme) {
        self.matched = matched
        self.scheme = scheme
    }
}

public struct UnsupportedPasswordScheme: Error, Equatable, CustomStringConvertible {
    public var scheme: String
    public var description: String { "unsupported password scheme {\(scheme)}" }
    public init(scheme: String) { self.scheme = scheme }
}

/// Verifies passwords against stored hashes and makes new ones. Every function here is
/// blocking CPU work (Argon2 is memory-hard by design): servers call it through
/// ``PasswordHasher``, which runs it on a thread pool.
public enum PasswordVerifier {
    /// Checks `password` against `stored` (Dovecot scheme syntax). An empty password never
    /// matches, whatever is stored. Throws ``UnsupportedPasswordScheme`` for unknown schemes.
    public static func check(_ password: String, against stored: String) throws -> PasswordCheck {
        guard let (scheme, encoding, value) = PasswordScheme.parse(stored) else {
            throw UnsupportedPasswordScheme(scheme: PasswordHashFormat.schemeName(of: stored))
        }
        guard !password.isEmpty, !value.isEmpty else { return PasswordCheck(matched: false, scheme: scheme) }
        let matched: Bool
        switch scheme {
        case .argon2id:
            matched = Argon2Hash.verify(password, encoded: String(value), type: Argon2_id)
        case .argon2i:
            matched = Argon2Hash.verify(password, encoded: String(value), type: Argon2_i)
        case .blfCrypt, .sha512Crypt, .sha256Crypt, .md5Crypt, .crypt:
            if value.hasPrefix("$argon2id$") {
                matched = Argon2Hash.verify(password, encoded: String(value), type: Argon2_id)
            } else if let computed = CryptHash.crypt(password, setting: String(value)) {
                matched = constantTimeEquals(Array(computed.utf8), Array(value.utf8))
            } else {
                matched = false
            }
        case .ssha512:
            matched = saltedDigestMatches(password, value, encoding, SHA512.self)
        case .ssha256:
            matched = saltedDigestMatches(password, value, encoding, SHA256.self)
        case .ssha:
            matched = saltedDigestMatches(password, value, encoding, Insecure.SHA1.self)
        case .sha512:
            matched = digestMatches(password, value, encoding, SHA512.self)
        case .sha256:
            matched = digestMatches(password, value, encoding, SHA256.self)
        case .sha:
            matched = digestMatches(password, value, encoding, Insecure.SHA1.self)
        case .plainMD5:
            // Dovecot's PLAIN-MD5 is hex by default.
            matched = digestMatches(password, value, encoding == .base64 && value.count == 32 ? .hex : encoding, Insecure.MD5.self)
        case .plain:
            matched = constantTimeEquals(Array(password.utf8), Array(value.utf8))
        }
        return PasswordCheck(matched: matched, scheme: scheme)
    }

    /// A new `{ARGON2ID}` hash of `password`.
    public static func hash(_ password: String, parameters: Argon2Hash.Parameters = .default) throws -> String {
        guard !password.isEmpty else { throw PasswordPolicyError.empty }
        guard let encoded = Argon2Hash.hash(password, parameters: parameters) else { throw PasswordPolicyError.hashingFailed }
        return "{ARGON2ID}" + encoded
    }

    static func decode(_ value: Substring, _ encoding: PasswordScheme.DigestEncoding) -> [UInt8]? {
        switch encoding {
        case .base64: return Data(base64Encoded: String(value)).map { Array($0) }
        case .hex:
            let chars = Array(value.utf8)
            guard chars.count % 2 == 0 else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(chars.count / 2)
            var i = 0
            while i < chars.count {
                guard let b = UInt8(String(decoding: chars[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
                out.append(b)
                i += 2
            }
            return out
        }
    }

    /// `{SSHA*}`: the decoded value is digest(password + salt) followed by the salt.
    static func saltedDigestMatches<H: HashFunction>(_ password: String, _ value: Substring,
                                                     _ encoding: PasswordScheme.DigestEncoding, _: H.Type) -> Bool {
        guard let decoded = decode(value, encoding), decoded.count > H.Digest.byteCount else { return false }
        let digest = decoded[..<H.Digest.byteCount]
        let salt = decoded[H.Digest.byteCount...]
        var hasher = H()
        hasher.update(data: Array(password.utf8))
        hasher.update(data: Array(salt))
        return constantTimeEquals(Array(hasher.finalize()), Array(digest))
    }

    /// `{SHA*}`, `{PLAIN-MD5}`: an unsalted digest of the password.
    static func digestMatches<H: HashFunction>(_ password: String, _ value: Substring,
                                               _ encoding: PasswordScheme.DigestEncoding, _: H.Type) -> Bool {
        guard let decoded = decode(value, encoding), decoded.count == H.Digest.byteCount else { return false }
        return constantTimeEquals(Array(H.hash(data: Array(password.utf8))), decoded)
    }
}

public enum PasswordPolicyError: Error, Equatable, CustomStringConvertible {
    case empty
    case tooLong(limit: Int)
    case hashingFailed

    public var description: String {
        switch self {
        case .empty: return "the password is empty"
        case .tooLong(let limit): return "the password is longer than \(limit) bytes"
        case .hashingFailed: return "hashing the password failed"
        }
    }
}
