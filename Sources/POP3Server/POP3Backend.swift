import MailAuth
import MailCore
import MailStore

/// One message of a maildrop as the session took it at login.
public struct MaildropMessage: Sendable, Equatable {
    public var uid: UInt32
    /// Octets as RETR sends them before dot-stuffing: stored messages have CR LF lines.
    public var size: Int64
}

/// The INBOX of an account at login.
public struct Maildrop: Sendable, Equatable {
    public var mailboxID: Int64
    public var uidValidity: UInt32
    public var messages: [MaildropMessage]
}

/// What a POP3 session asks of the rest of Petrel. Errors are temporary (`[SYS/TEMP]`).
public protocol POP3Backend: Sendable {
    /// Logins: the domains' backends, throttling, SCRAM (MailAuth's ``Authenticator``).
    var logins: any LoginService { get }
    /// The maildrop lock, nil when another session holds it (`[IN-USE]`).
    func lock(_ accountID: Int64) async throws -> MaildropLock?
    func maildrop(_ accountID: Int64) async throws -> Maildrop
    /// A message's bytes in order.
    func content(_ accountID: Int64, _ mailboxID: Int64, uid: UInt32) -> AsyncThrowingStream<[UInt8], any Error>
    /// Deletes the messages at QUIT, in one transaction (expunged, as IMAP sees it).
    func delete(_ accountID: Int64, _ mailboxID: Int64, uids: [UInt32]) async throws
}

public struct StorePOP3Backend: POP3Backend {
    public let database: Database
    public let authenticator: Authenticator
    let mailboxes: MailboxStore
    let messages: MessageStore
    /// The node's maildrop locks, on one connection.
    let locks: MaildropLocks

    public var logins: any LoginService { authenticator }

    public init(database: Database, authenticator: Authenticator) {
        self.database = database
        locks = MaildropLocks(database: database)
        self.authenticator = authenticator
        mailboxes = MailboxStore(database: database)
        messages = MessageStore(database: database)
    }

    /// With the default authentication settings (throttling on, SCRAM when possible).
    public init(database: Database, hasher: PasswordHasher) {
        self.init(database: database, authenticator: Authenticator(directory: Directory(database: database), hasher: hasher))
    }

    public func lock(_ accountID: Int64) async throws -> MaildropLock? {
        try await locks.acquire(accountID: accountID)
    }

    public func maildrop(_ accountID: Int64) async throws -> Maildrop {
        try await mailboxes.ensureDefaults(accountID: accountID)
        let inbox = try await mailboxes.mailbox(accountID: accountID, name: .inbox)
        let sizes = try await messages.sizes(accountID: accountID, mailboxID: inbox.id)
        return Maildrop(mailboxID: inbox.id, uidValidity: inbox.uidValidity,
                        messages: sizes.map { MaildropMessage(uid: $0.uid, size: $0.size) })
    }

    public func content(_ accountID: Int64, _ mailboxID: Int64, uid: UInt32) -> AsyncThrowingStream<[UInt8], any Error> {
        let stream = messages.content(accountID: accountID, mailboxID: mailboxID, uid: uid)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for try await chunk in stream { continuation.yield(Array(chunk.readableBytesView)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func delete(_ accountID: Int64, _ mailboxID: Int64, uids: [UInt32]) async throws {
        _ = try await messages.expunge(accountID: accountID, mailboxID: mailboxID, uids: UIDSet(uids), onlyDeleted: false)
    }
}
