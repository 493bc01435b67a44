import Logging
import ServerSupport

/// Makes the POP3 listeners: a session per connection, and the listener's own replies.
public struct POP3Service: Sendable {
    public let configuration: POP3Configuration
    public let backend: any POP3Backend
    public let logger: Logger

    public init(configuration: POP3Configuration, backend: any POP3Backend, logger: Logger) {
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
    }

    /// RFC 1939 §3: an inactivity autologout timer of at least 10 minutes (the default here).
    public func spec(name: String, host: String, port: Int, tls: TLSMode) -> ListenerSpec {
        var spec = ListenerSpec(name: name, host: host, port: port, tls: tls,
                                busyReply: "-ERR [SYS/TEMP] Too many connections\r\n",
                                timeoutReply: "-ERR Autologout; idle for too long\r\n")
        spec.idleTimeout = .minutes(10)
        return spec
    }

    public func listener(_ spec: ListenerSpec) -> Listener {
        let configuration = self.configuration
        let backend = self.backend
        let logger = self.logger
        return Listener(spec: spec) { connection in
            await POP3Session(connection: connection, configuration: configuration, backend: backend, logger: logger).run()
        }
    }
}
