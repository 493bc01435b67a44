/// A mailbox name as the client sent it: modified UTF-7 (RFC 3501 §5.1.3) or, after
/// `ENABLE UTF8=ACCEPT`, UTF-8. Decoding is the session's business.
public struct MailboxArgument: Hashable, Sendable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }

    /// RFC 3501 §5.1: "INBOX" in any case is INBOX.
    public var isInbox: Bool { String(decoding: bytes, as: UTF8.self).uppercased() == "INBOX" }
}

/// STATUS items (RFC 3501 §6.3.10, RFC 8438 SIZE, RFC 7162 HIGHESTMODSEQ, RFC 9051 DELETED,
/// RFC 7889 APPENDLIMIT).
public enum StatusAttribute: String, Hashable, Sendable, CaseIterable {
    case messages = "MESSAGES"
    case recent = "RECENT"
    case uidNext = "UIDNEXT"
    case uidValidity = "UIDVALIDITY"
    case unseen = "UNSEEN"
    case size = "SIZE"
    case highestModSeq = "HIGHESTMODSEQ"
    case deleted = "DELETED"
    case appendLimit = "APPENDLIMIT"
}

/// How STORE changes flags.
public enum StoreMode: Hashable, Sendable {
    case replace, add, remove
}

/// LIST-EXTENDED (RFC 5258) and SPECIAL-USE (RFC 6154) options of LIST.
public struct ListOptions: Hashable, Sendable {
    /// Selection options: SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE (upper-cased).
    public var selection: [String] = []
    /// Return options: SUBSCRIBED, CHILDREN, SPECIAL-USE, and STATUS with its items.
    public var returnOptions: [String] = []
    public var returnStatus: [StatusAttribute]?

    public init() {}
}

/// One IMAP command as a value (RFC 3501 §6 and the extensions Petrel speaks).
public enum IMAPCommand: Hashable, Sendable {
    // Any state.
    case capability
    case noop
    case logout
    /// RFC 2971: the client's fields, nil for `ID NIL`.
    case id([IDField]?)
    // Not authenticated.
    case starttls
    /// SASL-IR (RFC 4959): the initial response, base64 as sent (`=` is an empty one).
    case authenticate(mechanism: String, initialResponse: [UInt8]?)
    case login(user: [UInt8], password: [UInt8])
    // Authenticated.
    case enable([String])
    case select(MailboxArgument, parameters: [String])
    case examine(MailboxArgument, parameters: [String])
    /// CREATE-SPECIAL-USE (RFC 6154 §3): `(USE (\Sent))`.
    case create(MailboxArgument, specialUse: [String])
    case delete(MailboxArgument)
    case rename(MailboxArgument, to: MailboxArgument)
    case subscribe(MailboxArgument)
    case unsubscribe(MailboxArgument)
    case list(reference: MailboxArgument, patterns: [[UInt8]], options: ListOptions)
    case lsub(reference: MailboxArgument, pattern: [UInt8])
    case namespace
    case status(MailboxArgument, [StatusAttribute])
    /// The message is the literal's bytes; `date` as sent (`"17-Jul-1996 02:44:25 -0700"`).
    case append(MailboxArgument, flags: [Flag], date: IMAPDateTime?, message: [UInt8])
    case idle
    case getQuota(root: [UInt8])
    case getQuotaRoot(MailboxArgument)
    case setQuota(root: [UInt8], limits: [QuotaLimit])
    // Selected.
    case check
    case close
    case unselect
    case expunge
    case uidExpunge(SequenceSet)
    case search(charset: String?, key: SearchKey, uid: Bool)
    case fetch(SequenceSet, [FetchAttribute], uid: Bool, changedSince: UInt64?)
    case store(SequenceSet, mode: StoreMode, silent: Bool, flags: [Flag], uid: Bool, unchangedSince: UInt64?)
    case copy(SequenceSet, MailboxArgument, uid: Bool)
    case move(SequenceSet, MailboxArgument, uid: Bool)
}

/// One field of an ID command or response (RFC 2971 §3.3).
public struct IDField: Hashable, Sendable {
    public var key: String
    public var value: String?

    public init(_ key: String, _ value: String?) {
        self.key = key
        self.value = value
    }
}

/// One resource limit of SETQUOTA (RFC 9208 §4.3): `STORAGE 512`.
public struct QuotaLimit: Hashable, Sendable {
    public var resource: String
    public var limit: UInt64

    public init(_ resource: String, _ limit: UInt64) {
        self.resource = resource
        self.limit = limit
    }
}

/// A command with its tag.
public struct TaggedCommand: Hashable, Sendable {
    public var tag: String
    public var command: IMAPCommand

    public init(tag: String, command: IMAPCommand) {
        self.tag = tag
        self.command = command
    }
}

/// RFC 3501 `date-time` of APPEND: a moment with the sender's zone offset.
public struct IMAPDateTime: Hashable, Sendable {
    public var year: Int, month: Int, day: Int
    public var hour: Int, minute: Int, second: Int
    /// Offset from UTC in minutes (`-0700` is -420).
    public var zoneMinutes: Int

    public init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int, zoneMinutes: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        self.zoneMinutes = zoneMinutes
    }

    /// Seconds since 1970 (UTC).
    public var secondsSince1970: Int64 {
        // Days from civil (Howard Hinnant's algorithm), then the time and the zone.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = Int64(era * 146097 + doe - 719468)
        return days * 86400 + Int64(hour * 3600 + minute * 60 + second) - Int64(zoneMinutes * 60)
    }
}
