/// Server side of the SASL mechanisms: PLAIN (RFC 4616) and LOGIN (draft-murchison-sasl-login),
/// which carry the password itself, and SCRAM-SHA-256 (RFC 7677), which never does. Protocol-neutral: SMTP AUTH, IMAP AUTHENTICATE and POP3
/// AUTH feed it the client's decoded responses and send the challenges it returns, each in
/// their own framing (base64 lines). Bounded: a response is at most `maximumResponse` bytes.
public enum SASLMechanism: String, Sendable, CaseIterable {
    case plain = "PLAIN"
    case login = "LOGIN"
    case scramSHA256 = "SCRAM-SHA-256"

    public init?(name: String) {
        self.init(rawValue: name.uppercased())
    }

    /// PLAIN and LOGIN send the password itself, so they are offered only over TLS or loopback.
    public var isPlaintext: Bool { self != .scramSHA256 }
}

/// The credentials a client gave.
public struct SASLCredentials: Sendable, Equatable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

/// One authentication exchange.
public struct SASLExchange: Sendable {
    public static let maximumResponse = 4096

    public enum Step: Sendable, Equatable {
        /// Send this challenge (raw bytes; the protocol encodes them) and wait for a response.
        case challenge([UInt8])
        /// The client is done: check these credentials.
        case credentials(SASLCredentials)
        /// SCRAM: look up this login's secrets and hand them to ``provide(_:)``.
        case needSCRAMSecrets(username: String)
        /// SCRAM: the proof was right and the client acknowledged the server's signature.
        case authenticated(username: String)
        /// SCRAM: the proof was wrong (or there are no secrets): a failed login.
        case failed(username: String, reason: String)
        /// The response cannot be used (malformed, too long, or asks to act as another user).
        case malformed(String)
    }

    public let mechanism: SASLMechanism
    private var username: String?
    private var scram: SCRAMServerExchange?

    public init(mechanism: SASLMechanism) {
        self.mechanism = mechanism
        if mechanism == .scramSHA256 { scram = SCRAMServerExchange() }
    }

    /// A SCRAM exchange with a fixed server nonce (RFC 7677's example, in tests).
    init(scramServerNonce: String) {
        mechanism = .scramSHA256
        scram = SCRAMServerExchange(serverNonce: scramServerNonce)
    }

    /// SCRAM: the secrets asked for by `.needSCRAMSecrets`, nil when the login has none (then
    /// made-up ones keyed by `decoyKey`, or by a key of this process when nil).
    public mutating func provide(_ secrets: SCRAMSecrets?, decoyKey: [UInt8]? = nil) -> Step {
        guard var scram else { return .malformed("not a SCRAM exchange") }
        let outcome = scram.provide(secrets, decoyKey: decoyKey)
        self.scram = scram
        return Self.step(outcome)
    }

    static func step(_ outcome: SCRAMServerExchange.Outcome) -> Step {
        switch outcome {
        case .challenge(let bytes): return .challenge(bytes)
        case .needSecrets(let username): return .needSCRAMSecrets(username: username)
        case .authenticated(let username): return .authenticated(username: username)
        case .failed(let username, let reason): return .failed(username: username, reason: reason)
        case .malformed(let why): return .malformed(why)
        }
    }

    /// Begins the exchange, with the initial response when the client sent one (RFC 4954
    /// §4, RFC 4959: an empty initial response is `=`, given here as an empty array).
    public mutating func start(initialResponse: [UInt8]?) -> Step {
        switch mechanism {
        case .plain:
            guard let initialResponse else { return .challenge([]) }
            return respond(initialResponse)
        case .login:
            guard let initialResponse else { return .challenge(Array("Username:".utf8)) }
            return respond(initialResponse)
        case .scramSHA256:
            // RFC 5802 §5: the client speaks first; an empty challenge asks for its message.
            guard let initialResponse, !initialResponse.isEmpty else { return .challenge([]) }
            return respond(initialResponse)
        }
    }

    /// The client's next (decoded) response.
    public mutating func respond(_ response: [UInt8]) -> Step {
        guard response.count <= Self.maximumResponse else { return .malformed("response too long") }
        switch mechanism {
        case .scramSHA256:
            guard var scram else { return .malformed("no SCRAM state") }
            let outcome = scram.receive(response)
            self.scram = scram
            return Self.step(outcome)
        case .plain:
            return Self.parsePlain(response)
        case .login:
            guard let text = String(validating: response, as: UTF8.self), !text.contains("\u{0}") else {
                return .malformed("not UTF-8 text")
            }
            if let username {
                return .credentials(SASLCredentials(username: username, password: text))
            }
            username = text
            return .challenge(Array("Password:".utf8))
        }
    }

    /// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`. An authorization identity other than
    /// the login itself (acting as another user) is refused: Petrel has no proxy rights.
    static func parsePlain(_ message: [UInt8]) -> Step {
        let fields = message.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard fields.count == 3 else { return .malformed("PLAIN needs authzid NUL authcid NUL password") }
        guard let authzid = String(validating: fields[0], as: UTF8.self),
              let authcid = String(validating: fields[1], as: UTF8.self),
              let password = String(validating: fields[2], as: UTF8.self) else {
            return .malformed("not UTF-8")
        }
        guard !authcid.isEmpty else { return .malformed("empty authentication identity") }
        if !authzid.isEmpty && authzid.lowercased() != authcid.lowercased() {
            return .malformed("authorization identity differs from the login")
        }
        return .credentials(SASLCredentials(username: authcid, password: password))
    }
}
