import Logging
import ServerSupport

/// Makes the listeners of the SMTP service: the session for each connection, and the replies
/// the listener sends on its own (too many connections, idle timeout).
public struct SMTPService: Sendable {
    public let configuration: SMTPConfiguration
    public let backend: any SMTPBackend
    public let logger: Logger

    public init(configuration: SMTPConfiguration, backend: any SMTPBackend, logger: Logger) {
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
    }

    /// A listener spec with SMTP's replies filled in.
    public func spec(name: String, host: String, port: Int, tls: TLSMode) -> ListenerSpec {
        ListenerSpec(name: name, host: host, port: port, tls: tls,
                     busyReply: SMTPReply(421, "4.7.0", "\(configuration.hostname) Error: too many connections").rendered,
                     timeoutReply: SMTPReply(421, "4.4.2", "\(configuration.hostname) Error: timeout exceeded").rendered)
    }

    public func listener(_ spec: ListenerSpec, role: SMTPRole) -> Listener {
        let configuration = self.configuration
        let backend = self.backend
        let logger = self.logger
        return Listener(spec: spec) { connection in
            await SMTPSession(connection: connection, configuration: configuration, backend: backend,
                              role: role, logger: logger).run()
        }
    }
}
