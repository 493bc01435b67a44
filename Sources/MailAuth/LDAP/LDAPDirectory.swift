import MailCore
import MailStore
import NIOConcurrencyHelpers
import NIOPosix

/// What a directory said about a login or a recipient.
public enum DirectoryVerdict: Sendable, Equatable {
    /// The user exists (and, for a login, the password bound): the account to provision.
    case accepted(ProvisionedAccount)
    /// Wrong password, unknown or ambiguous user (the reason is for logs).
    case rejected(String)
    /// The directory could not answer: a temporary failure, never "wrong password".
    case unavailable(String)
}

/// One domain's LDAP directory: a pool of connections, each used by one thread of the pool's
/// own threads at a time, so that a slow directory never holds up an event loop or the
/// password-hashing threads.
///
/// A login is a search as the service account for exactly one entry, then a bind as that
/// entry's DN with the user's password (the directory never exposes a password attribute).
public final class LDAPDirectory: Sendable {
    public let settings: LDAPSettings
    let threads: NIOThreadPool
    private let idle = NIOLockedValueBox<[LDAPConnection]>([])

    public init(settings: LDAPSettings) {
        self.settings = settings
        threads = NIOThreadPool(numberOfThreads: settings.effectivePoolSize)
        threads.start()
    }

    deinit {
        threads.shutdownGracefully { _ in }
    }

    /// Checks a login: search, then bind as the entry found.
    public func authenticate(_ address: EmailAddress, password: String) async -> DirectoryVerdict {
        // RFC 4513 §5.1.2: a bind with a DN and an empty password is an unauthenticated bind
        // that servers may accept: it never reaches the directory.
        guard !password.isEmpty else { return .rejected("empty password") }
        return await run { connection in
            let entry: LDAPEntry
            switch try self.find(address, filter: self.settings.effectiveUserFilter, on: connection) {
            case .found(let found): entry = found
            case .none: return .rejected("no such user in the directory")
            case .ambiguous: return .rejected("the filter matches more than one entry")
            }
            guard let account = self.account(entry, login: address) else {
                return .rejected("the directory entry has no address in \(address.domain)")
            }
            // Without a service account the pool searches anonymously: a connection bound as
            // a user is not reused, so no later search runs with that user's rights.
            if self.settings.bindDN == nil { connection.reusable = false }
            do {
                try connection.bind(dn: entry.dn, password: password)
            } catch LDAPError.invalidCredentials {
                return .rejected("wrong password")
            } catch LDAPError.failed(let code, let message) {
                // e.g. 53 unwilling to perform (a locked or disabled entry): a refusal.
                return .rejected("bind refused (\(code)): \(message)")
            }
            return .accepted(account)
        }
    }

    /// Whether `address` is a user of the directory (RCPT for an LDAP domain), by the recipient filter.
    public func lookup(_ address: EmailAddress) async -> DirectoryVerdict {
        await run { connection in
            switch try self.find(address, filter: self.settings.effectiveRecipientFilter, on: connection) {
            case .found(let entry):
                guard let account = self.account(entry, login: address) else { return .rejected("the entry has no address in this domain") }
                return .accepted(account)
            case .none: return .rejected("no such recipient in the directory")
            case .ambiguous: return .rejected("the recipient filter matches more than one entry")
            }
        }
    }

    enum Found { case found(LDAPEntry), none, ambiguous }

    /// The search, bound as the service account (re-bound after a user bind on this connection).
    func find(_ address: EmailAddress, filter template: String, on connection: LDAPConnection) throws -> Found {
        if let bindDN = settings.bindDN, let bindPassword = settings.bindPassword, connection.boundDN != bindDN {
            do {
                try connection.bind(dn: bindDN, password: bindPassword)
            } catch LDAPError.invalidCredentials {
                throw LDAPError.unavailable("the service account \(bindDN) cannot bind: check bind_dn and bind_password")
            }
        }
        let filter = LDAPFilter.expand(template, address: address.description, localPart: address.localPart,
                                       domain: address.domain.ascii)
        let entries = try connection.search(base: settings.baseDN, scope: settings.scope ?? "sub", filter: filter,
                                            attributes: attributes, limit: 1)
        switch entries.count {
        case 0: return .none
        case 1: return .found(entries[0])
        default: return .ambiguous
        }
    }

    var attributes: [String] {
        [settings.effectiveMailAttribute, settings.effectiveNameAttribute] + [settings.aliasAttribute, settings.quotaAttribute].compactMap { $0 }
    }

    /// The account for an entry: the login when the entry lists it, else the entry's first
    /// `mail` value in the login's domain. An entry with addresses, none of them in this domain,
    /// is not a user of this domain (nil): with a filter on `uid=%u`, a user of another domain
    /// sharing the directory must not get, or get into, an account here under their name. An
    /// entry without any address is the login's. Aliases are only ever addresses of the same
    /// domain, so that a directory entry can never claim another domain's addresses.
    func account(_ entry: LDAPEntry, login: EmailAddress) -> ProvisionedAccount? {
        let mails = entry.values(settings.effectiveMailAttribute).compactMap { try? EmailAddress($0) }
        let address: EmailAddress
        if mails.contains(login) {
            address = login
        } else if let same = mails.first(where: { $0.domain == login.domain }) {
            address = same
        } else if mails.isEmpty {
            address = login
        } else {
            return nil
        }
        var aliases = mails
        if let attribute = settings.aliasAttribute {
            aliases += entry.values(attribute).compactMap { try? EmailAddress($0) }
        }
        aliases = aliases.filter { $0 != address && $0.domain == address.domain }
        let quota = settings.quotaAttribute.flatMap { entry.values($0).first }.flatMap { Int64($0) }.map { max(0, $0) }
        return ProvisionedAccount(address: address, displayName: entry.values(settings.effectiveNameAttribute).first,
                                  quotaBytes: quota, aliases: aliases)
    }

    /// Runs `body` on the pool's threads with a connection. A connection that failed is
    /// dropped, and the work is tried once more on a new one: after the directory restarts,
    /// every pooled connection is dead, and the first use of each finds out.
    func run(_ body: @escaping @Sendable (LDAPConnection) throws -> DirectoryVerdict) async -> DirectoryVerdict {
        do {
            return try await threads.runIfActive { [self] in
                var lastError: LDAPError = .unavailable("no connection")
                for attempt in 0 ..< 2 {
                    let pooled = attempt == 0 ? self.idle.withLockedValue { $0.popLast() } : nil
                    do {
                        let connection = try pooled ?? LDAPConnection(self.settings)
                        let verdict = try body(connection)
                        if connection.reusable { self.idle.withLockedValue { $0.append(connection) } }
                        return verdict
                    } catch let error as LDAPError {
                        lastError = error
                        if pooled == nil { break }   // a new connection failed: the directory is down
                    }
                }
                if case .unavailable(let why) = lastError { return .unavailable(why) }
                return .unavailable("\(lastError)")
            }
        } catch {
            return .unavailable("\(error)")
        }
    }
}
