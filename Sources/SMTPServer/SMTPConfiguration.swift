import NIOCore
import MailCore
import ServerSupport

/// What an SMTP listener is for.
public enum SMTPRole: String, Sendable {
    /// Port 25: mail from the world to local domains; relaying only for the trusted.
    case mx
    /// Ports 587 / 465: users sending; AUTH required, the sender must be theirs.
    case submission
}

/// Settings of the SMTP service, handed in by the `petrel` command (nothing here reads files).
public struct SMTPConfiguration: Sendable {
    /// The name in the greeting, EHLO reply and Received: headers.
    public var hostname: String
    /// Largest message accepted, in bytes (SIZE; Postfix `message_size_limit`).
    public var maximumMessageSize = 50 * 1024 * 1024
    /// Recipients per message (Postfix `smtpd_recipient_limit`).
    public var maximumRecipients = 1000
    /// Error replies before the session is ended with `421` (Postfix `smtpd_hard_error_limit`).
    public var maximumErrors = 20
    /// Longest command line, line end included. RFC 5321 §4.5.3.1.4 says 512 at least; AUTH
    /// and SMTPUTF8 need more.
    public var maximumCommandLine = 12 * 1024
    /// A message body (DATA, or one BDAT chunk) must arrive whole within this long, then
    /// `421 4.4.2` and close (RFC 5321 §4.5.3.2.6 gives clients 10 minutes for the end of data).
    public var dataTimeout: TimeAmount = .minutes(10)
    /// Clients that may relay without AUTH (Postfix `mynetworks`); empty by default, so that
    /// even loopback must authenticate to relay.
    public var trustedNetworks: [IPNetwork] = []
    /// Offer AUTH on the MX listener too (off: port 25 is for other MTAs).
    public var authOnMX = false
    /// Allow PLAIN/LOGIN without TLS from the loopback interface (local tools, tests of the
    /// encryption rule turn it off).
    public var plaintextAuthOnLoopback = true
    /// `<postmaster>` without a domain is delivered to this address (RFC 5321 §4.1.1.3).
    public var postmaster: String
    /// The certificate for STARTTLS (and implicit TLS, used by the listener).
    public var tls: TLSContextStore?

    public init(hostname: String) {
        self.hostname = hostname
        self.postmaster = "postmaster@" + hostname
    }
}
