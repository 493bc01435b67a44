import NIOCore

/// How a listener speaks TLS.
public enum TLSMode: String, Sendable, CaseIterable {
    /// Plaintext only (no STARTTLS offered).
    case none
    /// Plaintext until the client asks for STARTTLS / STLS (RFC 3207, RFC 2595).
    case starttls
    /// TLS from the first byte (RFC 8314 implicit TLS: ports 465, 993, 995).
    case implicit
}

/// One listening socket and the limits of the connections it accepts. Protocol modules fill
/// in the replies they need at the edges (too many connections, timeout, shutdown).
public struct ListenerSpec: Sendable {
    /// `smtp`, `submission`, `imaps`…: names the listener in logs and tells the protocol
    /// module which role the connection plays.
    public var name: String
    public var host: String
    public var port: Int
    public var tls: TLSMode
    /// Connections open at once on this listener; more are answered `busyReply` and closed.
    public var maximumConnections: Int = 1000
    /// Connections open at once from one client address (Postfix
    /// `smtpd_client_connection_count_limit`, default 50).
    public var maximumConnectionsPerClient: Int = 50
    /// No bytes from the client for this long: `timeoutReply`, then close (RFC 5321
    /// §4.5.3.2: at least 5 minutes for SMTP commands).
    public var idleTimeout: TimeAmount = .minutes(5)
    /// A command line must arrive whole within this long of its first byte, however slowly
    /// its bytes trickle in (the idle timeout alone would let a client hold a session forever
    /// with one byte a minute). Then `timeoutReply` and close.
    public var commandTimeout: TimeAmount = .minutes(5)
    /// Sent when a connection is refused for a limit, e.g. `421 4.7.0 too many connections`.
    public var busyReply: String
    /// Sent when a timeout fires (idle, command, or the protocol's own deadlines), e.g. `421 4.4.2 timeout exceeded`.
    public var timeoutReply: String

    public init(name: String, host: String, port: Int, tls: TLSMode, busyReply: String, timeoutReply: String) {
        self.name = name
        self.host = host
        self.port = port
        self.tls = tls
        self.busyReply = busyReply
        self.timeoutReply = timeoutReply
    }
}
