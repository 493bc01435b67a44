/// RFC 3501 `section-spec`: which part of a message `BODY[…]` means.
public struct SectionSpec: Hashable, Sendable {
    /// What is taken from the part (or from the whole message when `part` is empty).
    public enum Text: Hashable, Sendable {
        /// The whole part (`BODY[]`, `BODY[1.2]`).
        case complete
        case header
        case headerFields([String])
        case headerFieldsNot([String])
        case text
        /// The MIME header of a part (only with a part number).
        case mime
    }

    /// `1.2.3`: part numbers, each ≥ 1; empty for the message itself.
    public var part: [Int]
    public var text: Text

    public init(part: [Int] = [], text: Text = .complete) {
        self.part = part
        self.text = text
    }
}

/// `<origin.length>` of `BODY[…]<…>`.
public struct Partial: Hashable, Sendable {
    public var origin: Int
    public var length: Int

    public init(origin: Int, length: Int) {
        self.origin = origin
        self.length = length
    }
}

/// One item of a FETCH (RFC 3501 §6.4.5). The macros ALL, FAST and FULL are expanded by
/// the parser.
public enum FetchAttribute: Hashable, Sendable {
    case envelope
    case flags
    case internalDate
    case rfc822
    case rfc822Header
    case rfc822Size
    case rfc822Text
    /// `BODY`: the structure without extension data.
    case body
    case bodyStructure
    case uid
    /// `BODY[section]<partial>`; `peek` for `BODY.PEEK`, which does not set `\Seen`.
    case section(SectionSpec, partial: Partial?, peek: Bool)
    /// CONDSTORE (RFC 7162); parsed so that clients asking for it get a clean answer.
    case modSeq

    public static let fast: [FetchAttribute] = [.flags, .internalDate, .rfc822Size]
    public static let all: [FetchAttribute] = [.flags, .internalDate, .rfc822Size, .envelope]
    public static let full: [FetchAttribute] = [.flags, .internalDate, .rfc822Size, .envelope, .body]

    /// Whether fetching it sets `\Seen` (RFC 3501 §6.4.5: BODY[…] and RFC822, RFC822.TEXT).
    public var setsSeen: Bool {
        switch self {
        case .rfc822, .rfc822Text: return true
        case .section(_, _, let peek): return !peek
        default: return false
        }
    }
}
