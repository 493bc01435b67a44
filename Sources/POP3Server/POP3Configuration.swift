import ServerSupport

/// What a POP3 node is told by its configuration.
public struct POP3Configuration: Sendable {
    public var hostname: String
    public var tls: TLSContextStore?
    /// USER/PASS and AUTH PLAIN/LOGIN without TLS from 127.0.0.0/8 and ::1.
    public var plaintextAuthOnLoopback = true
    /// Error replies before the session is closed.
    public var maximumErrors = 20

    public init(hostname: String) {
        self.hostname = hostname
    }
}
