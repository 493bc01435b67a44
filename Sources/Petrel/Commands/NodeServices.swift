import Delivery
import Foundation
import Logging
import MailAuth
import MailStore
import NIOPosix
import ServerSupport
import IMAPServer
import POP3Server
import SMTPServer

/// The protocol listeners of a node, built from the configuration.
enum NodeServices {
    /// The TLS certificate, when one is configured.
    static func tlsStore(_ configuration: PetrelConfiguration) throws -> TLSContextStore? {
        guard let certificate = configuration.tlsCertificate, let key = configuration.tlsKey else { return nil }
        do {
            return try TLSContextStore(certificatePath: certificate, keyPath: key)
        } catch {
            throw CLIError("\(error)")
        }
    }

    static func smtpService(_ configuration: PetrelConfiguration, database: Database, tls: TLSContextStore?,
                            authenticator: Authenticator, hub: ChangeEventHub, logger: Logger) -> SMTPService {
        var smtp = SMTPConfiguration(hostname: configuration.hostname)
        smtp.maximumMessageSize = configuration.smtp.maximumMessageSize
        smtp.maximumRecipients = configuration.smtp.maximumRecipients
        smtp.maximumErrors = configuration.smtp.maximumErrors
        smtp.dataTimeout = .seconds(Int64(configuration.smtp.dataTimeoutSeconds))
        smtp.trustedNetworks = configuration.smtp.trustedNetworks
        smtp.authOnMX = configuration.smtp.authOnMX
        if let postmaster = configuration.smtp.postmaster { smtp.postmaster = postmaster }
        smtp.tls = tls
        let backend = StoreSMTPBackend(database: database, authenticator: authenticator, limits: configuration.resolution,
                                       accessRules: hub.accessRules)
        return SMTPService(configuration: smtp, backend: backend, logger: logger)
    }

    static func imapService(_ configuration: PetrelConfiguration, database: Database, tls: TLSContextStore?,
                            authenticator: Authenticator, hub: ChangeEventHub, logger: Logger) -> IMAPService {
        var imap = IMAPConfiguration(hostname: configuration.hostname)
        imap.tls = tls
        imap.framing.maximumAppendLiteral = configuration.imap.appendLimit
        let backend = StoreIMAPBackend(database: database, authenticator: authenticator, hub: hub)
        return IMAPService(configuration: imap, backend: backend, logger: logger)
    }

    static func pop3Service(_ configuration: PetrelConfiguration, database: Database, tls: TLSContextStore?,
                            authenticator: Authenticator, logger: Logger) -> POP3Service {
        var pop3 = POP3Configuration(hostname: configuration.hostname)
        pop3.tls = tls
        return POP3Service(configuration: pop3, backend: StorePOP3Backend(database: database, authenticator: authenticator), logger: logger)
    }

    /// The queue worker of this node (nil when `delivery.enabled` is false).
    static func queueWorker(_ configuration: PetrelConfiguration, database: Database, logger: Logger) -> QueueWorker? {
        let d = configuration.delivery
        guard d.enabled else { return nil }
        var resolverConfiguration = DNSResolver.Configuration(
            nameservers: d.nameservers.isEmpty ? PetrelConfiguration.systemNameservers() : d.nameservers)
        resolverConfiguration.timeout = .seconds(5)
        let router = Router(settings: d.routing, resolver: DNSResolver(configuration: resolverConfiguration))
        var client = SMTPClient.Settings(heloName: configuration.hostname)
        client.connectTimeout = .seconds(Int64(d.connectTimeoutSeconds))
        client.commandTimeout = .seconds(Int64(d.commandTimeoutSeconds))
        client.ownEndpoints = OwnEndpoints(listening: configuration.listeners
            .filter { $0.enabled && $0.smtpRole != nil }.map { ($0.address, $0.port) })
        var worker = QueueWorker.Settings(owner: "\(configuration.hostname)/\(getpid())/\(UInt32.random(in: 0...UInt32.max))",
                                          hostname: configuration.hostname)
        if let schedule = d.retrySchedule { worker.retrySchedule = schedule }
        if let age = d.maximumAge { worker.maximumAge = age }
        worker.lease = .seconds(d.leaseSeconds)
        worker.pollInterval = .seconds(d.pollSeconds)
        worker.concurrency = d.concurrency
        worker.batchSize = d.batchSize
        worker.destinationConcurrency = d.destinationConcurrency
        worker.destinationRateDelay = d.destinationRateDelay
        worker.delayWarning = d.delayWarning
        var log = logger
        log[metadataKey: "service"] = "queue"
        return QueueWorker(settings: worker, database: database, router: router,
                           client: SMTPClient(settings: client, logger: log, reuseConnections: d.connectionReuse),
                           bounces: BounceSender(database: database, limits: configuration.resolution, logger: log), logger: log)
    }

    /// The listeners to open. Without a certificate, STARTTLS is not offered and implicit-TLS
    /// listeners stay closed (with a warning).
    static func listeners(_ configuration: PetrelConfiguration, smtp: SMTPService, imap: IMAPService, pop3: POP3Service,
                          tls: TLSContextStore?, logger: Logger) -> [Listener] {
        var out: [Listener] = []
        for listener in configuration.listeners where listener.enabled {
            var mode = listener.tls
            if tls == nil && mode != .none {
                if mode == .implicit {
                    logger.warning("no TLS certificate configured (tls.certificate, tls.key): listener not opened",
                                   metadata: ["listener": "\(listener.name)"])
                    continue
                }
                logger.warning("no TLS certificate configured: STARTTLS not offered", metadata: ["listener": "\(listener.name)"])
                mode = .none
            }
            if listener.isIMAP {
                var spec = imap.spec(name: listener.name, host: listener.address, port: listener.port, tls: mode)
                spec.idleTimeout = .seconds(Int64(configuration.imap.idleTimeoutSeconds))
                spec.maximumConnections = configuration.imap.maximumConnections
                spec.maximumConnectionsPerClient = configuration.imap.maximumConnectionsPerClient
                out.append(imap.listener(spec))
                continue
            }
            if listener.isPOP3 {
                var spec = pop3.spec(name: listener.name, host: listener.address, port: listener.port, tls: mode)
                spec.idleTimeout = .seconds(Int64(configuration.pop3.idleTimeoutSeconds))
                spec.maximumConnections = configuration.pop3.maximumConnections
                spec.maximumConnectionsPerClient = configuration.pop3.maximumConnectionsPerClient
                out.append(pop3.listener(spec))
                continue
            }
            guard let role = listener.smtpRole else { continue }
            var spec = smtp.spec(name: listener.name, host: listener.address, port: listener.port, tls: mode)
            spec.idleTimeout = .seconds(Int64(configuration.smtp.idleTimeoutSeconds))
            spec.commandTimeout = .seconds(Int64(configuration.smtp.commandTimeoutSeconds))
            spec.maximumConnections = configuration.smtp.maximumConnections
            spec.maximumConnectionsPerClient = configuration.smtp.maximumConnectionsPerClient
            out.append(smtp.listener(spec, role: role))
        }
        return out
    }
}
