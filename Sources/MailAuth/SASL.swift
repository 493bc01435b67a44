/// Server side of the SASL mechanisms that carry a plaintext password: PLAIN (RFC 4616) and
/// LOGIN (draft-murchison-sasl-login). Protocol-neutral: SMTP AUTH, IMAP AUTHENTICATE and POP3
/// AUTH feed it the client's decoded responses and send the challenges it returns, each in
/// their own framing (base64 lines). Bounded: a response is at most `maximumResponse` bytes.
public enum SASLMechanism: String, Sendable, CaseIterable {
    case plain = "PLAIN"
    case login = "LOGIN"

    public init?(name: String) {
        self.init(rawValue: name.uppercased())
    }

    /// Both send the password itself, so they are offered only over TLS or loopback.
    public var isPlaintext: Bool { true }
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
        /// The response cannot be used (malformed, too long, or asks to act as another user).
        case malformed(String)
    }

    public let mechanism: SASLMechanism
    private var username: String?

    public init(mechanism: SASLMechanism) {
        self.mechanism = mechanism
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
        }
    }

    /// The client's next (decoded) response.
    public mutating func respond(_ response: [UInt8]) -> Step {
        guard response.count <= Self.maximumResponse else { return .malformed("response too long") }
        switch mechanism {
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
