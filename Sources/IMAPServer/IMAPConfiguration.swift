import NIOCore
import ServerSupport

/// What an IMAP node is told by its configuration.
public struct IMAPConfiguration: Sendable {
    public var hostname: String
    /// The certificate for STARTTLS and implicit TLS; nil: no TLS (STARTTLS not offered).
    public var tls: TLSContextStore?
    /// Plaintext LOGIN / AUTHENTICATE PLAIN without TLS from 127.0.0.0/8 and ::1.
    public var plaintextAuthOnLoopback = true
    /// Limits of command framing; `maximumAppendLiteral` is APPENDLIMIT (RFC 7889).
    public var framing = IMAPCommandFramer.Limits()
    /// A literal (an APPENDed message) must arrive whole within this long.
    public var literalTimeout: TimeAmount = .minutes(10)
    /// BAD replies before the session is closed with BYE.
    public var maximumErrors = 20
    /// Failed logins before the session is closed with BYE (each costs a password hash).
    public var maximumAuthenticationFailures = 3

    public init(hostname: String) {
        self.hostname = hostname
    }
}
