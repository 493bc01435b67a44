import Logging
import ServerSupport

/// Makes the IMAP listeners: a session for each connection, and the replies the listener
/// sends on its own (too many connections, timeout).
public struct IMAPService: Sendable {
    public let configuration: IMAPConfiguration
    public let backend: any IMAPBackend
    public let logger: Logger

    public init(configuration: IMAPConfiguration, backend: any IMAPBackend, logger: Logger) {
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
    }

    /// A listener spec with IMAP's replies filled in. RFC 3501 §5.4: an idle timer of at
    /// least 30 minutes (the default here).
    public func spec(name: String, host: String, port: Int, tls: TLSMode) -> ListenerSpec {
        var spec = ListenerSpec(name: name, host: host, port: port, tls: tls,
                                busyReply: "* BYE [UNAVAILABLE] Too many connections\r\n",
                                timeoutReply: "* BYE Autologout; idle for too long\r\n")
        spec.idleTimeout = .minutes(30)
        return spec
    }

    public func listener(_ spec: ListenerSpec) -> Listener {
        let configuration = self.configuration
        let backend = self.backend
        let logger = self.logger
        return Listener(spec: spec) { connection in
            await IMAPSession(connection: connection, configuration: configuration, backend: backend, logger: logger).run()
        }
    }
}
