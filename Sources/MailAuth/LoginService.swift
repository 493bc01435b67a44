/// Where a login comes from: the protocol, for logs and Cyrus SASL's service name, and the
/// client's address, for throttling.
public struct LoginContext: Sendable, Equatable {
    /// "smtp", "imap" or "pop3".
    public var service: String
    /// The client's IP address as text; nil when unknown (then only the account is throttled).
    public var clientAddress: String?

    public init(service: String, clientAddress: String?) {
        self.service = service
        self.clientAddress = clientAddress
    }
}

/// Which authentication backend a domain uses.
public enum AuthBackendKind: String, Sendable, CaseIterable, Codable {
    /// The accounts table (the foundation's password hashes).
    case sql
    /// Search the directory for the user, then bind as the found entry with the password.
    case ldap
    /// libsasl2's `sasl_checkpass`, configured like Postfix's `smtpd_sasl_type = cyrus` (saslauthd).
    case cyrus
}

/// A login that succeeded.
public struct AuthenticatedUser: Sendable, Equatable {
    public var accountID: Int64
    public var address: String
    /// Which backend said yes.
    public var backend: AuthBackendKind

    public init(accountID: Int64, address: String, backend: AuthBackendKind) {
        self.accountID = accountID
        self.address = address
        self.backend = backend
    }
}

/// The answer to a login attempt. Protocols answer `rejected` alike for a wrong password, an
/// unknown or a disabled account (`reason` is for logs and `petrel auth test` only), and never
/// turn `temporaryFailure` or `throttled` into "wrong password".
public enum LoginOutcome: Sendable, Equatable {
    case accepted(AuthenticatedUser)
    case rejected(reason: String)
    /// The backend could not answer (database or directory unreachable, timeout): `454 4.7.0`,
    /// `NO [UNAVAILABLE]`, `-ERR [SYS/TEMP]`.
    case temporaryFailure(reason: String)
    /// Too many failed logins from this client or for this account: refused for a while,
    /// answered like a temporary failure.
    case throttled(reason: String)
}

/// SCRAM's first look-up: the login's secrets; or none (the exchange goes on with made-up
/// ones keyed by `decoyKey`, shared by every node, and fails at the proof); or a refusal
/// before the exchange goes on.
public enum SCRAMLookup: Sendable, Equatable {
    case secrets(SCRAMSecrets)
    case unknown(decoyKey: [UInt8])
    case refused(LoginOutcome)
}

/// Everything a protocol session asks of authentication. ``Authenticator`` is the one
/// implementation: per-domain backends, throttling shared through PostgreSQL, rehashing.
public protocol LoginService: Sendable {
    /// A login with a password (PLAIN, LOGIN, IMAP LOGIN, POP3 USER/PASS).
    func login(username: String, password: String, context: LoginContext) async -> LoginOutcome
    /// SCRAM: the throttling check and the stored secrets of `username`.
    func scramSecrets(username: String, context: LoginContext) async -> SCRAMLookup
    /// SCRAM: the exchange ended; `verified` says whether the proof was right.
    func scramFinished(username: String, verified: Bool, reason: String, context: LoginContext) async -> LoginOutcome
    /// Whether SCRAM-SHA-256 is offered at all (only when the domains' backends can do it).
    var offersSCRAM: Bool { get }
}

extension LoginService {
    /// The mechanisms to advertise where authentication is allowed.
    public var mechanisms: [SASLMechanism] {
        offersSCRAM ? [.scramSHA256, .plain, .login] : [.plain, .login]
    }
}
