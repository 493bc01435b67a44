/// One SMTP reply (RFC 5321 §4.2): a code, an enhanced status code (RFC 3463, RFC 2034) and
/// one or more lines of text.
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    /// `2.1.5` etc.; nil only for the greeting and the EHLO reply (RFC 2034 §3).
    public var enhanced: String?
    public var lines: [String]

    public init(_ code: Int, _ enhanced: String?, _ lines: String...) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
    }

    public init(_ code: Int, _ enhanced: String?, lines: [String]) {
        self.code = code
        self.enhanced = enhanced
        self.lines = lines
    }

    public var isError: Bool { code >= 400 }

    /// The wire form: `250-first\r\n250 last\r\n`, the enhanced code on every line.
    public var rendered: String {
        var out = ""
        let lines = self.lines.isEmpty ? [""] : self.lines
        for (index, line) in lines.enumerated() {
            out += String(code)
            out += index == lines.count - 1 ? " " : "-"
            if let enhanced { out += enhanced + " " }
            out += line + "\r\n"
        }
        return out
    }

    public var description: String { rendered.replacingOccurrences(of: "\r\n", with: " / ") }
}

extension SMTPReply {
    static let ok = SMTPReply(250, "2.0.0", "Ok")
    static let bye = SMTPReply(221, "2.0.0", "Bye")
    static let badSequenceHelo = SMTPReply(503, "5.5.1", "Error: send HELO/EHLO first")
    static let badSequenceMail = SMTPReply(503, "5.5.1", "Error: need MAIL command")
    static let badSequenceRcpt = SMTPReply(503, "5.5.1", "Error: need RCPT command")
    static let nestedMail = SMTPReply(503, "5.5.1", "Error: nested MAIL command")
    static let unrecognised = SMTPReply(500, "5.5.2", "Error: command not recognized")
    static let lineTooLong = SMTPReply(500, "5.5.2", "Error: line too long")
    static let temporaryLookup = SMTPReply(451, "4.3.0", "Error: temporary failure, try again later")
    static let tooManyRecipients = SMTPReply(452, "4.5.3", "Error: too many recipients")
    static let messageTooBig = SMTPReply(552, "5.3.4", "Error: message file too big")
    static let authRequired = SMTPReply(530, "5.7.0", "Authentication required")
    static let tlsRequired = SMTPReply(530, "5.7.0", "Must issue a STARTTLS command first")
    static let encryptionRequired = SMTPReply(538, "5.7.11", "Encryption required for requested authentication mechanism")
    static let authInvalid = SMTPReply(535, "5.7.8", "Error: authentication failed: authentication credentials invalid")
    static let authTemporary = SMTPReply(454, "4.7.0", "Temporary authentication failure")
    static let authAborted = SMTPReply(501, "5.7.0", "Authentication aborted")
    static let authSucceeded = SMTPReply(235, "2.7.0", "Authentication successful")
    static let utf8Required = SMTPReply(553, "5.6.7", "Error: non-ASCII address requires SMTPUTF8")
}
