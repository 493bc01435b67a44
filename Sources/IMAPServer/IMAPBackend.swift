import Foundation
import MailAuth
import MailCore
import MailStore

/// An authenticated user.
public struct IMAPLogin: Sendable, Equatable {
    public var accountID: Int64
    public var address: String

    public init(accountID: Int64, address: String) {
        self.accountID = accountID
        self.address = address
    }
}

/// The account's quota and usage (RFC 9208: STORAGE in KiB, MESSAGE in messages); nil
/// limits are unlimited.
public struct IMAPQuota: Sendable, Equatable {
    public var usedBytes: Int64
    public var limitBytes: Int64?
    public var usedMessages: Int64
    public var limitMessages: Int64?
}

/// What an IMAP session asks of the rest of Petrel. Every call takes the account id, and the
/// store filters every statement on it: no session reaches another account's data. Thrown
/// errors are `StoreError`s, answered by kind (`NO [NONEXISTENT]`, `NO [OVERQUOTA]`,
/// `NO [UNAVAILABLE]`…).
public protocol IMAPBackend: Sendable {
    /// Logins: the domains' backends, throttling, SCRAM (MailAuth's ``Authenticator``).
    var logins: any LoginService { get }
    func mailboxes(_ account: Int64) async throws -> [MailboxRecord]
    func mailbox(_ account: Int64, named name: MailboxName) async throws -> MailboxRecord
    func create(_ account: Int64, _ name: MailboxName, specialUse: SpecialUse?) async throws
    func delete(_ account: Int64, _ name: MailboxName) async throws
    func rename(_ account: Int64, from: MailboxName, to: MailboxName) async throws
    func subscribe(_ account: Int64, _ name: MailboxName, _ on: Bool) async throws
    func subscriptions(_ account: Int64) async throws -> [String]
    func status(_ account: Int64, _ mailbox: Int64) async throws -> MailboxStatus
    func claimRecent(_ account: Int64, _ mailbox: Int64) async throws -> ClosedRange<UInt32>?
    func uids(_ account: Int64, _ mailbox: Int64) async throws -> [UInt32]
    func firstUnseen(_ account: Int64, _ mailbox: Int64) async throws -> UInt32?
    func flagStates(_ account: Int64, _ mailbox: Int64, _ uids: UIDSet) async throws -> [MessageFlagState]
    func summaries(_ account: Int64, _ mailbox: Int64, _ uids: UIDSet) async throws -> [MessageSummary]
    func content(_ account: Int64, _ mailbox: Int64, uid: UInt32, range: Range<Int>?) async throws -> [UInt8]
    func storeFlags(_ account: Int64, _ mailbox: Int64, _ uids: UIDSet, _ operation: FlagOperation, _ flags: MessageFlags,
                    keywords: [String], unchangedSince: Int64?) async throws -> FlagStoreResult
    func expunge(_ account: Int64, _ mailbox: Int64, _ uids: UIDSet?) async throws -> [UInt32]
    func copy(_ account: Int64, from: Int64, _ uids: UIDSet, to: Int64, move: Bool) async throws -> CopyResult
    func append(_ account: Int64, _ mailbox: Int64, _ message: PreparedMessage, flags: MessageFlags, keywords: [String],
                date: Date) async throws -> StoredMessage
    func changes(_ account: Int64, _ mailbox: Int64, since modseq: Int64) async throws -> MailboxChanges
    /// UIDs of the messages that match, ascending.
    func search(_ account: Int64, _ mailbox: Int64, _ criteria: MessageSearch) async throws -> [UInt32]
    func quota(_ account: Int64) async throws -> IMAPQuota
    /// Change events for the account from every node (IDLE), nil when this node does not
    /// listen for them.
    func events(_ account: Int64) async -> AsyncStream<ChangeEvent>?
}

/// The backend over PostgreSQL.
public struct StoreIMAPBackend: IMAPBackend {
    public let directory: Directory
    public let mailboxStore: MailboxStore
    public let messages: MessageStore
    public let authenticator: Authenticator
    /// The node's one LISTEN connection, fanned out to IDLE sessions.
    public let hub: ChangeEventHub?

    public var logins: any LoginService { authenticator }

    public init(database: Database, authenticator: Authenticator, hub: ChangeEventHub? = nil) {
        self.hub = hub
        directory = Directory(database: database)
        mailboxStore = MailboxStore(database: database)
        messages = MessageStore(database: database)
        self.authenticator = authenticator
    }

    /// With the default authentication settings (throttling on, SCRAM when possible).
    public init(database: Database, hasher: PasswordHasher, hub: ChangeEventHub? = nil) {
        self.init(database: database, authenticator: Authenticator(directory: Directory(database: database), hasher: hasher), hub: hub)
    }

    public func mailboxes(_ account: Int64) async throws -> [MailboxRecord] {
        try await mailboxStore.list(accountID: account)
    }

    public func mailbox(_ account: Int64, named name: MailboxName) async throws -> MailboxRecord {
        try await mailboxStore.mailbox(accountID: account, name: name)
    }

    public func create(_ account: Int64, _ name: MailboxName, specialUse: SpecialUse?) async throws {
        try await mailboxStore.create(accountID: account, name: name, specialUse: specialUse)
    }

    public func delete(_ account: Int64, _ name: MailboxName) async throws {
        try await mailboxStore.delete(accountID: account, name: name)
    }

    public func rename(_ account: Int64, from: MailboxName, to: MailboxName) async throws {
        try await mailboxStore.rename(accountID: account, from: from, to: to)
    }

    public func subscribe(_ account: Int64, _ name: MailboxName, _ on: Bool) async throws {
        if on {
            try await mailboxStore.subscribe(accountID: account, name: name)
        } else {
            try await mailboxStore.unsubscribe(accountID: account, name: name)
        }
    }

    public func subscriptions(_ account: Int64) async throws -> [String] {
        try await mailboxStore.subscriptions(accountID: account)
    }

    public func status(_ account: Int64, _ mailbox: Int64) async throws -> MailboxStatus {
        try await messages.status(accountID: account, mailboxID: mailbox)
    }

    public func claimRecent(_ account: Int64, _ mailbox: Int64) async throws -> ClosedRange<UInt32>? {
        try await messages.claimRecent(accountID: account, mailboxID: mailbox)
    }

    public func uids(_ account: Int64, _ mailbox: Int64) async throws -> [UInt32] {
        try await messages.uids(accountID: account, mailboxID: mailbox)
    }

    public func firstUnseen(_ account: Int64, _ mailbox: Int64) async throws -> UInt32? {
        try await messages.firstUnseen(accountID: account, mailboxID: mailbox)
    }

    public func flagStates(_ account: Int64, _ mailbox: Int64, _ uids: UIDSet) async throws -> [MessageFlagState] {
        try await messages.flagStates(accountID: account, mailboxID: mailbox, uids: uids)
    }

    public func summaries(_ account: Int64, _ mailbox: Int64, _ uids: UIDSet) async throws -> [MessageSummary] {
        try await messages.summaries(accountID: account, mailboxID: mailbox, uids: uids)
    }

    public func content(_ account: Int64, _ mailbox: Int64, uid: UInt32, range: Range<Int>?) async throws -> [UInt8] {
        try await messages.contentBytes(accountID: account, mailboxID: mailbox, uid: uid, range: range)
    }

    public func storeFlags(_ account: Int64, _ mailbox: Int64, _ uids: UIDSet, _ operation: FlagOperation, _ flags: MessageFlags,
                           keywords: [String], unchangedSince: Int64?) async throws -> FlagStoreResult {
        try await messages.storeFlags(accountID: account, mailboxID: mailbox, uids: uids, operation: operation, flags: flags,
                                      keywords: keywords, unchangedSince: unchangedSince)
    }

    public func expunge(_ account: Int64, _ mailbox: Int64, _ uids: UIDSet?) async throws -> [UInt32] {
        try await messages.expunge(accountID: account, mailboxID: mailbox, uids: uids)
    }

    public func copy(_ account: Int64, from: Int64, _ uids: UIDSet, to: Int64, move: Bool) async throws -> CopyResult {
        move ? try await messages.move(accountID: account, from: from, uids: uids, to: to)
             : try await messages.copy(accountID: account, from: from, uids: uids, to: to)
    }

    public func append(_ account: Int64, _ mailbox: Int64, _ message: PreparedMessage, flags: MessageFlags, keywords: [String],
                       date: Date) async throws -> StoredMessage {
        try await messages.append(accountID: account, mailboxID: mailbox, message: message, flags: flags, keywords: keywords,
                                  internalDate: date)
    }

    public func changes(_ account: Int64, _ mailbox: Int64, since modseq: Int64) async throws -> MailboxChanges {
        try await messages.changes(accountID: account, mailboxID: mailbox, since: modseq)
    }

    public func search(_ account: Int64, _ mailbox: Int64, _ criteria: MessageSearch) async throws -> [UInt32] {
        try await messages.search(accountID: account, mailboxID: mailbox, criteria)
    }

    public func events(_ account: Int64) async -> AsyncStream<ChangeEvent>? {
        await hub?.subscribe(accountID: account)
    }

    public func quota(_ account: Int64) async throws -> IMAPQuota {
        let record = try await directory.accountUsage(accountID: account)
        return IMAPQuota(usedBytes: record.usedBytes, limitBytes: record.quotaBytes, usedMessages: record.usedMessages,
                         limitMessages: record.quotaMessages)
    }
}
