/// A mailbox name as Petrel stores it: UTF-8, hierarchy separated by `/`, `INBOX` in upper case.
///
/// RFC 3501 §5.1: "The case-insensitive mailbox name INBOX is a special name reserved to mean
/// 'the primary mailbox for this user on this server'"; so `inbox`, `Inbox/Lists` are stored as
/// `INBOX`, `INBOX/Lists`. Other names are case-sensitive. The IMAP layer converts to and from
/// modified UTF-7 (RFC 3501 §5.1.3) or UTF-8 (RFC 9051); the store sees only this form.
///
/// Refused: empty names and components (`a//b`, leading or trailing `/`), control characters,
/// the LIST wildcards `*` and `%` (a name containing them could never be listed exactly),
/// more than 1,000 bytes or 32 levels.
public struct MailboxName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public static let separator: Character = "/"
    public static let inbox = MailboxName(validated: "INBOX")
    public static let maximumBytes = 1000
    public static let maximumDepth = 32

    public let value: String
    public var description: String { value }

    public static func < (lhs: MailboxName, rhs: MailboxName) -> Bool { lhs.value < rhs.value }

    public enum Invalid: Error, Equatable, CustomStringConvertible {
        case empty
        case emptyComponent
        case tooLong
        case tooDeep
        case badCharacter

        public var description: String {
            switch self {
            case .empty: return "the mailbox name is empty"
            case .emptyComponent: return "the mailbox name has an empty level (leading, trailing or double '/')"
            case .tooLong: return "the mailbox name is longer than \(MailboxName.maximumBytes) bytes"
            case .tooDeep: return "the mailbox name is nested deeper than \(MailboxName.maximumDepth) levels"
            case .badCharacter: return "the mailbox name has a control character or a wildcard (* or %)"
            }
        }
    }

    private init(validated: String) { value = validated }

    public init(_ input: String) throws {
        guard !input.isEmpty else { throw Invalid.empty }
        guard input.utf8.count <= Self.maximumBytes else { throw Invalid.tooLong }
        var components = input.split(separator: Self.separator, omittingEmptySubsequences: false).map(String.init)
        guard components.count <= Self.maximumDepth else { throw Invalid.tooDeep }
        guard components.allSatisfy({ !$0.isEmpty }) else { throw Invalid.emptyComponent }
        guard input.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F && $0 != "*" && $0 != "%"
            && !(0x80...0x9F).contains($0.value) }) else { throw Invalid.badCharacter }
        // ASCII case only: "ınbox" (dotless ı) is not INBOX.
        if components[0].utf8.count == 5, components[0].lowercased() == "inbox" { components[0] = "INBOX" }
        value = components.joined(separator: String(Self.separator))
    }

    public var isInbox: Bool { value == "INBOX" }

    /// The names of every superior level: `a/b/c` → `a`, `a/b`.
    public var ancestors: [MailboxName] {
        let parts = value.split(separator: Self.separator).map(String.init)
        return (1..<max(parts.count, 1)).map { MailboxName(validated: parts[0..<$0].joined(separator: "/")) }
    }

    /// Whether `other` lies below this name (`a/b` is below `a`; `ab` is not).
    public func isAncestor(of other: MailboxName) -> Bool {
        other.value.hasPrefix(value + String(Self.separator))
    }

    /// This name with the `prefix` level replaced by `replacement` (for renaming a subtree).
    public func replacingPrefix(_ prefix: MailboxName, with replacement: MailboxName) -> MailboxName {
        guard self == prefix || prefix.isAncestor(of: self) else { return self }
        return MailboxName(validated: replacement.value + value.dropFirst(prefix.value.count))
    }
}

/// RFC 6154 special-use attributes Petrel assigns.
public enum SpecialUse: String, Sendable, CaseIterable, Codable {
    case all = "\\All"
    case archive = "\\Archive"
    case drafts = "\\Drafts"
    case flagged = "\\Flagged"
    case junk = "\\Junk"
    case sent = "\\Sent"
    case trash = "\\Trash"

    /// The mailboxes every new account gets, with INBOX (as Dovecot's and Stalwart's defaults).
    public static let defaults: [(name: String, use: SpecialUse)] = [
        ("Sent", .sent), ("Drafts", .drafts), ("Trash", .trash), ("Junk", .junk), ("Archive", .archive),
    ]
}
