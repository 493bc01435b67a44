/// A message flag: a system flag (`\Seen`…), a keyword (`$Forwarded`, `Junk`), or an unknown
/// `\Extension` the client sent.
public enum Flag: Hashable, Sendable {
    case answered, flagged, deleted, seen, draft
    /// `\Recent`: session-only; never stored by a client (RFC 3501 §2.3.2).
    case recent
    case keyword(String)
    case `extension`(String)

    /// From the wire form (case-insensitive for system flags, keywords kept as sent).
    public init(_ text: String) {
        switch text.lowercased() {
        case "\\answered": self = .answered
        case "\\flagged": self = .flagged
        case "\\deleted": self = .deleted
        case "\\seen": self = .seen
        case "\\draft": self = .draft
        case "\\recent": self = .recent
        default: self = text.hasPrefix("\\") ? .extension(String(text.dropFirst())) : .keyword(text)
        }
    }

    /// The wire form.
    public var text: String {
        switch self {
        case .answered: return "\\Answered"
        case .flagged: return "\\Flagged"
        case .deleted: return "\\Deleted"
        case .seen: return "\\Seen"
        case .draft: return "\\Draft"
        case .recent: return "\\Recent"
        case .keyword(let k): return k
        case .extension(let e): return "\\" + e
        }
    }
}
