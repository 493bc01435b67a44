/// IMAP system flags (RFC 3501 §2.3.2) as stored: a bit mask in `messages.flags`. `\Recent` is
/// not stored per message (see `mailboxes.first_recent_uid`); keywords are a text array.
public struct MessageFlags: OptionSet, Sendable, Hashable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    public static let seen = MessageFlags(rawValue: 1)
    public static let answered = MessageFlags(rawValue: 2)
    public static let flagged = MessageFlags(rawValue: 4)
    public static let deleted = MessageFlags(rawValue: 8)
    public static let draft = MessageFlags(rawValue: 16)

    public static let all: [(MessageFlags, String)] = [
        (.seen, "\\Seen"), (.answered, "\\Answered"), (.flagged, "\\Flagged"), (.deleted, "\\Deleted"), (.draft, "\\Draft"),
    ]

    /// The system flag named (case-insensitive, with its backslash), or nil.
    public init?(name: String) {
        guard let match = MessageFlags.all.first(where: { $0.1.lowercased() == name.lowercased() }) else { return nil }
        self = match.0
    }

    public var names: [String] { MessageFlags.all.filter { contains($0.0) }.map(\.1) }
}

/// Flags and keywords of one message, with its modseq.
public struct MessageFlagState: Sendable, Equatable {
    public var uid: UInt32
    public var flags: MessageFlags
    public var keywords: [String]
    public var modseq: Int64
}
