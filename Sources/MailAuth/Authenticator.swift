import Foundation
import Logging
import MailCore
import MailStore
import NIOConcurrencyHelpers
import NIOCore

/// When SCRAM-SHA-256 is offered.
public enum SCRAMOffer: String, Sendable, CaseIterable {
    /// Offered while every domain authenticates against the accounts table (clients pick the
    /// strongest mechanism offered, and an LDAP or Cyrus user has no SCRAM secrets here).
    case auto
    case always
    case never
}

/// A backend that could not answer (directory down, settings unusable): a temporary failure.
public struct AuthBackendUnavailable: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The one authentication service of a node: the backend of each login's domain (the accounts
/// table, an LDAP directory, or Cyrus SASL), throttling of failed logins shared through
/// PostgreSQL, rehash on login, and SCRAM-SHA-256 from stored secrets. SMTP, IMAP and POP3
/// sessions and `petrel auth test` all go through it.
public final class Authenticator: LoginService {
    public let directory: Directory
    public let sql: SQLAuthenticator
    public let throttle: LoginThrottle
    public let scramOffer: SCRAMOffer
    let logger: Logger
    /// LDAP connection pools, one per distinct settings (domains sharing a directory share one).
    private let directories = NIOLockedValueBox<[String: LDAPDirectory]>([:])
    /// `anyDomainOutsideSQL`, re-read at most every 30 s.
    private let decoy = NIOLockedValueBox<[UInt8]?>(nil)
    private let outsideSQL = NIOLockedValueBox<(value: Bool, checked: NIODeadline?, refreshing: Bool)>((false, nil, false))

    public init(directory: Directory, hasher: PasswordHasher, throttle: LoginThrottleSettings = .default,
                scram: SCRAMOffer = .auto, logger: Logger = Logger(label: "petrel.auth")) {
        self.directory = directory
        self.sql = SQLAuthenticator(directory: directory, hasher: hasher, logger: logger)
        self.throttle = LoginThrottle(store: LoginFailures(database: directory.database), settings: throttle)
        self.scramOffer = scram
        self.logger = logger
    }

    /// How a domain authenticates.
    public enum Backend: Sendable {
        case sql
        case ldap(LDAPDirectory)
        case cyrus(CyrusSettings)

        public var kind: AuthBackendKind {
            switch self {
            case .sql: return .sql
            case .ldap: return .ldap
            case .cyrus: return .cyrus
            }
        }
    }

    public func backend(for domain: DomainName) async throws -> Backend {
        guard let record = try await directory.domainAuth(domain) else { return .sql }
        switch AuthBackendKind(rawValue: record.backend) {
        case .sql?, nil:
            return .sql
        case .ldap?:
            if let pool = directories.withLockedValue({ $0[record.settingsJSON] }) { return .ldap(pool) }
            let settings: LDAPSettings
            do { settings = try LDAPSettings.decode(json: record.settingsJSON) } catch {
                throw AuthBackendUnavailable("the LDAP settings of \(domain) cannot be read: \(error)")
            }
            if let problem = settings.problem() { throw AuthBackendUnavailable("the LDAP settings of \(domain): \(problem)") }
            return .ldap(directories.withLockedValue { pools in
                if let pool = pools[record.settingsJSON] { return pool }
                let pool = LDAPDirectory(settings: settings)
                pools[record.settingsJSON] = pool
                return pool
            })
        case .cyrus?:
            do { return .cyrus(try CyrusSettings.decode(json: record.settingsJSON)) } catch {
                throw AuthBackendUnavailable("the Cyrus SASL settings of \(domain) cannot be read: \(error)")
            }
        }
    }

    // MARK: Password logins

    public func login(username: String, password: String, context: LoginContext) async -> LoginOutcome {
        do {
            if let refusal = try await throttle.refusal(username, context) {
                logger.notice("login refused: throttled", metadata: ["user": "\(username.prefix(100))", "reason": "\(refusal)"])
                return .throttled(reason: refusal)
            }
            let outcome = try await check(username: username, password: password, context: context)
            switch outcome {
            case .accepted(let user):
                if let refusal = try await throttle.succeeded(username, address: user.address, context) {
                    return .throttled(reason: refusal)
                }
            case .rejected: await throttle.failed(username, context)
            case .temporaryFailure, .throttled: break
            }
            return outcome
        } catch {
            logger.error("authentication backend failed", metadata: ["error": "\(error)"])
            return .temporaryFailure(reason: "\(error)")
        }
    }

    /// The password check alone, by the domain's backend (no throttling).
    public func check(username: String, password: String, context: LoginContext) async throws -> LoginOutcome {
        if let address = try? EmailAddress(username) {
            switch try await backend(for: address.domain) {
            case .sql:
                break
            case .ldap(let pool):
                return try await outcome(of: await pool.authenticate(address, password: password), backend: .ldap)
            case .cyrus(let settings):
                return try await outcome(of: await CyrusSASL.shared.check(address, password: password, settings: settings,
                                                                           service: context.service), backend: .cyrus)
            }
        }
        return try await sql.authenticate(username: username, password: password)
    }

    /// A directory's verdict as a login: a user it accepts gets an account here (mailboxes on
    /// first login), unless an admin disabled that account.
    func outcome(of verdict: DirectoryVerdict, backend: AuthBackendKind) async throws -> LoginOutcome {
        switch verdict {
        case .accepted(let account):
            let (accountID, active) = try await directory.provision(account, from: backend.rawValue)
            guard active else { return .rejected(reason: "account or domain disabled") }
            return .accepted(AuthenticatedUser(accountID: accountID, address: account.address.description, backend: backend))
        case .rejected(let why):
            return .rejected(reason: why)
        case .unavailable(let why):
            return .temporaryFailure(reason: why)
        }
    }

    // MARK: SCRAM-SHA-256

    public func scramSecrets(username: String, context: LoginContext) async -> SCRAMLookup {
        do {
            if let refusal = try await throttle.refusal(username, context) { return .refused(.throttled(reason: refusal)) }
            if let address = try? EmailAddress(username), case .sql = try await backend(for: address.domain),
               let credentials = try await directory.credentials(address), credentials.active,
               let secrets = credentials.scramSHA256.flatMap(SCRAMSecrets.init(stored:)) {
                return .secrets(secrets)
            }
            return .unknown(decoyKey: try await decoyKey())
        } catch {
            logger.error("authentication backend failed", metadata: ["error": "\(error)"])
            return .refused(.temporaryFailure(reason: "\(error)"))
        }
    }

    public func scramFinished(username: String, verified: Bool, reason: String, context: LoginContext) async -> LoginOutcome {
        guard verified else {
            await throttle.failed(username, context)
            return .rejected(reason: reason)
        }
        do {
            guard let address = try? EmailAddress(username), let credentials = try await directory.credentials(address),
                  credentials.active else { return .rejected(reason: "account disabled meanwhile") }
            if let refusal = try await throttle.succeeded(username, address: credentials.address, context) {
                return .throttled(reason: refusal)
            }
            return .accepted(AuthenticatedUser(accountID: credentials.accountID, address: credentials.address, backend: .sql))
        } catch {
            return .temporaryFailure(reason: "\(error)")
        }
    }

    /// The key of made-up SCRAM salts, shared by every node (`auth_secrets`).
    func decoyKey() async throws -> [UInt8] {
        if let key = decoy.withLockedValue({ $0 }) { return key }
        guard let text = try await directory.authSecret("scram_decoy") else {
            throw AuthBackendUnavailable("auth_secrets has no scram_decoy: run petrel migrate")
        }
        let key = Array(text.utf8)
        decoy.withLockedValue { $0 = key }
        return key
    }

    public var offersSCRAM: Bool {
        switch scramOffer {
        case .never: return false
        case .always: return true
        case .auto:
            let now = NIODeadline.now()
            let (value, stale) = outsideSQL.withLockedValue { state -> (Bool, Bool) in
                let stale = !state.refreshing && (state.checked.map { now - $0 > .seconds(30) } ?? true)
                if stale { state.refreshing = true }
                return (state.value, stale)
            }
            if stale {
                Task { [directory, outsideSQL] in
                    let fresh = try? await directory.anyDomainOutsideSQL()
                    outsideSQL.withLockedValue { state in
                        if let fresh { state.value = fresh; state.checked = .now() }
                        state.refreshing = false
                    }
                }
            }
            return !value
        }
    }

    /// Reads whether SCRAM can be offered now (at startup, and in tests after changing backends).
    public func refreshSCRAMOffer() async throws {
        let fresh = try await directory.anyDomainOutsideSQL()
        outsideSQL.withLockedValue { $0 = (fresh, .now(), false) }
    }

    // MARK: Recipients of directory domains

    /// RCPT for an address with no account here: when its domain is an LDAP domain and the
    /// directory knows the address, the account (and its alternate addresses) is provisioned
    /// and true returned, so that resolution then finds it. Throws when the directory cannot answer.
    public func provisionRecipient(_ address: EmailAddress) async throws -> Bool {
        guard case .ldap(let pool) = try await backend(for: address.domain) else { return false }
        switch await pool.lookup(address) {
        case .accepted(let account):
            try await directory.provision(account, from: AuthBackendKind.ldap.rawValue)
            return true
        case .rejected:
            return false
        case .unavailable(let why):
            throw AuthBackendUnavailable(why)
        }
    }
}
