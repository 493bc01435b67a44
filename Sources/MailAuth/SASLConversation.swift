/// What a protocol read from the client in answer to a challenge, decoded from its framing.
public enum SASLClientResponse: Sendable, Equatable {
    case response([UInt8])
    /// `*` (RFC 4954 §4, RFC 3501 §6.2.2, RFC 5034 §4).
    case cancelled
    /// Not base64, or too long.
    case unreadable
    /// The connection ended.
    case closed
}

/// How an authentication exchange ended.
public enum SASLConversationResult: Sendable, Equatable {
    /// The credentials were checked: accepted, rejected, a temporary failure or throttled.
    case outcome(LoginOutcome, username: String)
    /// The client's messages broke the mechanism's syntax (answered as a failed login).
    case malformed(String)
    case cancelled
    case unreadable
    case closed
}

/// Runs one SASL exchange for SMTP AUTH, IMAP AUTHENTICATE and POP3 AUTH alike: each protocol
/// supplies `ask`, which sends a challenge in its own framing (`334 `, `+ `) and returns the
/// client's decoded answer.
public enum SASLConversation {
    public static func run(_ mechanism: SASLMechanism, initialResponse: [UInt8]?, logins: any LoginService,
                           context: LoginContext,
                           ask: (_ challenge: [UInt8]) async -> SASLClientResponse) async -> SASLConversationResult {
        var exchange = SASLExchange(mechanism: mechanism)
        var step = exchange.start(initialResponse: initialResponse)
        while true {
            switch step {
            case .challenge(let challenge):
                switch await ask(challenge) {
                case .response(let bytes): step = exchange.respond(bytes)
                case .cancelled: return .cancelled
                case .unreadable: return .unreadable
                case .closed: return .closed
                }
            case .credentials(let credentials):
                let outcome = await logins.login(username: credentials.username, password: credentials.password, context: context)
                return .outcome(outcome, username: credentials.username)
            case .needSCRAMSecrets(let username):
                switch await logins.scramSecrets(username: username, context: context) {
                case .secrets(let secrets): step = exchange.provide(secrets)
                case .unknown(let key): step = exchange.provide(nil, decoyKey: key)
                case .refused(let outcome): return .outcome(outcome, username: username)
                }
            case .authenticated(let username):
                let outcome = await logins.scramFinished(username: username, verified: true, reason: "", context: context)
                return .outcome(outcome, username: username)
            case .failed(let username, let reason):
                let outcome = await logins.scramFinished(username: username, verified: false, reason: reason, context: context)
                return .outcome(outcome, username: username)
            case .malformed(let why):
                return .malformed(why)
            }
        }
    }
}
