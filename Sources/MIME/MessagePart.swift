/// One body part of a parsed message, located by byte offsets into the raw message.
///
/// Offsets are absolute: the part's header is `headerStart..<headerEnd` (blank line included),
/// its body `bodyStart..<bodyEnd`. For a multipart the body holds the preamble, the children and
/// their boundaries; for message/rfc822 it is the encapsulated message (header and body), which
/// is the part's only child. Sizes count a bare LF as CR LF, as IMAP serves lines.
public struct MessagePart: Sendable, Equatable {
    /// What the part is structurally, after the rules of RFC 2045/2046 and the parser's limits.
    public enum Kind: UInt8, Sendable, Codable {
        case text           // text/* (and the default for a part without Content-Type)
        case multipart      // multipart/* with a boundary we followed
        case message        // message/rfc822 (or a digest part without Content-Type)
        case other          // anything else, including structure cut off by a limit
    }

    public var kind: Kind
    /// multipart/digest: children without Content-Type default to message/rfc822 (RFC 2046 §5.1.5).
    public var isDigest: Bool = false
    /// The part's header carried MIME-Version or Content-Type, or its parent is a multipart.
    public var isMIME: Bool = false
    public var parent: Int?
    public var children: [Int] = []
    public var depth: Int = 0

    public var headerStart: Int
    public var headerEnd: Int = 0
    public var bodyStart: Int = 0
    public var bodyEnd: Int = 0

    /// Octets and lines, counting a bare LF as CR LF.
    public var headerOctets: Int = 0
    public var bodyOctets: Int = 0
    public var bodyLines: Int = 0

    /// This part's header fields (for the root and message/rfc822 children: the message header).
    public var fields: [HeaderField] = []

    init(kind: Kind, parent: Int?, headerStart: Int) {
        self.kind = kind
        self.parent = parent
        self.headerStart = headerStart
    }
}
