/// Reads the scheme of a stored password hash in Dovecot's syntax, without verifying anything:
/// `{SHA512-CRYPT}$6$…` is SHA512-CRYPT; a bare crypt string is recognised by its `$id$`
/// prefix (`$6$` SHA512-CRYPT, `$5$` SHA256-CRYPT, `$1$` MD5-CRYPT, `$2y$`/`$2b$`/`$2a$`
/// BLF-CRYPT, `$y$` yescrypt, `$argon2id$` ARGON2ID); anything else bare is CRYPT.
public enum PasswordHashFormat {
    /// Splits `{SCHEME}rest` into the upper-cased scheme and the rest; nil scheme when bare.
    public static func split(_ stored: String) -> (scheme: String?, value: Substring) {
        if stored.hasPrefix("{"), let close = stored.firstIndex(of: "}") {
            let scheme = stored[stored.index(after: stored.startIndex)..<close]
            if !scheme.isEmpty, scheme.count <= 32, !scheme.contains("{") {
                return (scheme.uppercased(), stored[stored.index(after: close)...])
            }
        }
        return (nil, Substring(stored))
    }

    /// The scheme a person would call this hash: `ARGON2ID`, `SHA512-CRYPT`, `SSHA`, …
    public static func schemeName(of stored: String) -> String {
        let (scheme, value) = split(stored)
        if let scheme { return scheme }
        return bareScheme(value)
    }

    /// The scheme of a hash written without `{…}`.
    public static func bareScheme(_ value: Substring) -> String {
        if value.hasPrefix("$argon2id$") { return "ARGON2ID" }
        if value.hasPrefix("$argon2i$") { return "ARGON2I" }
        if value.hasPrefix("$6$") { return "SHA512-CRYPT" }
        if value.hasPrefix("$5$") { return "SHA256-CRYPT" }
        if value.hasPrefix("$1$") { return "MD5-CRYPT" }
        if value.hasPrefix("$2y$") || value.hasPrefix("$2b$") || value.hasPrefix("$2a$") { return "BLF-CRYPT" }
        return "CRYPT"
    }
}
