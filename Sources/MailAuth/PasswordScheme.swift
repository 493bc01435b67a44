import MailCore

/// A password scheme in Dovecot's naming, so that hashes from Dovecot and PostfixAdmin
/// databases are read unchanged. See Dovecot's "Password Schemes" documentation.
public enum PasswordScheme: String, Sendable, CaseIterable {
    case argon2id = "ARGON2ID"
    case argon2i = "ARGON2I"
    case blfCrypt = "BLF-CRYPT"
    case sha512Crypt = "SHA512-CRYPT"
    case sha256Crypt = "SHA256-CRYPT"
    case md5Crypt = "MD5-CRYPT"
    case crypt = "CRYPT"
    case ssha512 = "SSHA512"
    case ssha256 = "SSHA256"
    case ssha = "SSHA"
    case sha512 = "SHA512"
    case sha256 = "SHA256"
    case sha = "SHA"
    case plainMD5 = "PLAIN-MD5"
    case plain = "PLAIN"

    /// The scheme Petrel writes for new passwords.
    public static let preferred = PasswordScheme.argon2id

    /// Whether a hash in this scheme should be replaced by an Argon2id one at the next login.
    public var isLegacy: Bool { self != .argon2id }

    /// How the digest of a SHA-family scheme is written: Dovecot's default is base64, and a
    /// `.HEX` suffix on the scheme name (`{SSHA256.HEX}`) selects hexadecimal.
    public enum DigestEncoding: Sendable { case base64, hex }

    /// Parses a stored `{SCHEME}value` or bare value into its scheme, digest encoding and value.
    public static func parse(_ stored: String) -> (scheme: PasswordScheme, encoding: DigestEncoding, value: Substring)? {
        let (name, value) = PasswordHashFormat.split(stored)
        guard var name else {
            guard let scheme = PasswordScheme(rawValue: PasswordHashFormat.bareScheme(value)) else { return nil }
            return (scheme, .base64, value)
        }
        var encoding = DigestEncoding.base64
        if name.hasSuffix(".HEX") {
            encoding = .hex
            name.removeLast(4)
        } else if name.hasSuffix(".B64") || name.hasSuffix(".BASE64") {
            name = String(name[..<name.lastIndex(of: ".")!])
        }
        switch name {
        case "CLEARTEXT": return (.plain, encoding, value)
        case "MD5": return (.md5Crypt, encoding, value)  // Dovecot's {MD5} is MD5-CRYPT
        case "BLF-CRYPT", "BCRYPT": return (.blfCrypt, encoding, value)
        case "SHA1": return (.sha, encoding, value)
        case "SSHA1": return (.ssha, encoding, value)
        default:
            guard let scheme = PasswordScheme(rawValue: name) else { return nil }
            return (scheme, encoding, value)
        }
    }
}

extension PasswordScheme {
    /// Whether a stored hash is in a scheme Petrel can verify.
    public static func isSupported(_ stored: String) -> Bool {
        guard let parsed = parse(stored) else { return false }
        return !parsed.value.isEmpty
    }
}
