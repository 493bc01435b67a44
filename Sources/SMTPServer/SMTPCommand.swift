/// A client command (RFC 5321 §4.1.1 and the extensions Petrel speaks), parsed.
public enum SMTPCommand: Sendable, Equatable {
    case helo(String)
    case ehlo(String)
    case mail(SMTPPath, MailParameters)
    case rcpt(SMTPPath)
    case data
    /// RFC 3030 CHUNKING: `BDAT size [LAST]`.
    case bdat(size: Int, last: Bool)
    case rset
    case noop
    case quit
    case help
    case vrfy(String)
    case expn(String)
    case startTLS
    /// RFC 4954: `AUTH mechanism [initial-response]`; the response still base64.
    case auth(mechanism: String, initialResponse: String?)
}

/// MAIL FROM parameters (RFC 1870 SIZE, RFC 6152 BODY, RFC 6531 SMTPUTF8, RFC 4954 AUTH).
public struct MailParameters: Sendable, Equatable {
    public var size: Int64?
    public var body8bit = false
    public var smtputf8 = false

    public init() {}
}

/// Why a command line could not be parsed; each maps to its reply.
public enum SMTPSyntaxError: Error, Equatable {
    case unknownCommand
    case syntax(String)
    /// A parameter Petrel does not know or did not advertise (RFC 5321 §4.1.1.11: 555).
    case unsupportedParameter(String)
    case nulByte

    var reply: SMTPReply {
        switch self {
        case .unknownCommand: return .unrecognised
        case .syntax(let usage): return SMTPReply(501, "5.5.4", "Syntax: \(usage)")
        case .unsupportedParameter(let p): return SMTPReply(555, "5.5.4", "Unsupported option: \(p)")
        case .nulByte: return SMTPReply(500, "5.5.2", "Error: NUL character in command")
        }
    }
}
