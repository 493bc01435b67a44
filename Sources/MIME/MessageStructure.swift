/// The byte layout of a parsed message — where each part's header and body lie — kept with the
/// stored message so that `BODY[section]` is answered from offsets, without parsing again.
public struct MessageStructure: Sendable, Equatable, Codable {
    public struct Part: Sendable, Equatable {
        public var headerStart: Int
        public var headerEnd: Int
        public var bodyStart: Int
        public var bodyEnd: Int
        public var kind: MessagePart.Kind
        public var children: [Int]
    }

    public var parts: [Part]

    init(parts: [MessagePart]) {
        self.parts = parts.map {
            Part(headerStart: $0.headerStart, headerEnd: $0.headerEnd, bodyStart: $0.bodyStart, bodyEnd: $0.bodyEnd,
                 kind: $0.kind, children: $0.children)
        }
    }

    /// A compact encoding: one array `[hs, he, bs, be, kind, c1, c2, …]` per part.
    public init(from decoder: any Decoder) throws {
        var container = try decoder.unkeyedContainer()
        var parts: [Part] = []
        while !container.isAtEnd {
            let row = try container.decode([Int].self)
            guard row.count >= 5, let kind = MessagePart.Kind(rawValue: UInt8(clamping: row[4])) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "bad part row")
            }
            parts.append(Part(headerStart: row[0], headerEnd: row[1], bodyStart: row[2], bodyEnd: row[3], kind: kind,
                              children: Array(row[5...])))
        }
        // Refuse a structure that could make `locate` trap (a damaged row).
        for part in parts {
            guard part.headerStart <= part.headerEnd, part.bodyStart <= part.bodyEnd, part.headerStart >= 0,
                  part.children.allSatisfy({ $0 > 0 && $0 < parts.count }) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "inconsistent part offsets")
            }
        }
        self.parts = parts
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for part in parts { try container.encode(part.row) }
    }

    /// The same encoding as JSON text, made directly (JSONEncoder was about 1 % of the SMTP
    /// node's CPU per message).
    public var jsonText: String {
        "[" + parts.map { "[" + $0.row.map(String.init).joined(separator: ",") + "]" }.joined(separator: ",") + "]"
    }
}

extension MessageStructure.Part {
    /// `[hs, he, bs, be, kind, c1, c2, …]`.
    var row: [Int] { [headerStart, headerEnd, bodyStart, bodyEnd, Int(kind.rawValue)] + children }
}

/// A `section` of RFC 3501 §6.4.5 FETCH BODY[section], already parsed.
public struct Section: Sendable, Equatable, Hashable {
    public enum Text: Sendable, Equatable, Hashable {
        case header
        case headerFields([String])
        case headerFieldsNot([String])
        case text
        case mime
    }

    /// Part numbers, 1-based; empty for the whole message.
    public var path: [Int]
    public var text: Text?

    public init(path: [Int] = [], text: Text? = nil) {
        self.path = path
        self.text = text
    }
}

/// Where a section's bytes are. HEADER.FIELDS needs the header filtered, so it comes back as
/// the header range plus the filter to apply (`HeaderFieldFilter`).
public enum SectionLocation: Sendable, Equatable {
    case bytes(Range<Int>)
    case filteredHeader(Range<Int>, names: [String], exclude: Bool)
    /// The section does not exist in this message: IMAP returns an empty string.
    case empty
}

extension MessageStructure {
    /// Resolves a section to byte ranges, following RFC 3501 §6.4.5: a non-multipart part has
    /// only part 1; the parts of a message/rfc822 are those of the message it encloses;
    /// HEADER, TEXT and HEADER.FIELDS apply to the message itself or to a message/rfc822 part;
    /// MIME is the header of a numbered part.
    public func locate(_ section: Section) -> SectionLocation {
        guard !parts.isEmpty else { return .empty }
        var index = 0
        for number in section.path {
            if parts[index].kind == .message {
                guard let child = parts[index].children.first else { return .empty }
                index = child
            }
            if parts[index].kind == .multipart {
                guard number >= 1, number <= parts[index].children.count else { return .empty }
                index = parts[index].children[number - 1]
            } else if number != 1 {
                return .empty
            }
        }
        let part = parts[index]
        switch section.text {
        case nil:
            if section.path.isEmpty { return .bytes(part.headerStart..<part.bodyEnd) }
            return .bytes(part.bodyStart..<part.bodyEnd)
        case .mime:
            guard !section.path.isEmpty else { return .empty }
            return .bytes(part.headerStart..<part.headerEnd)
        case .header, .headerFields, .headerFieldsNot, .text:
            var message = part
            if !section.path.isEmpty {
                guard part.kind == .message, let child = part.children.first else { return .empty }
                message = parts[child]
            }
            switch section.text! {
            case .header: return .bytes(message.headerStart..<message.headerEnd)
            case .text: return .bytes(message.bodyStart..<message.bodyEnd)
            case .headerFields(let names): return .filteredHeader(message.headerStart..<message.headerEnd, names: names, exclude: false)
            case .headerFieldsNot(let names): return .filteredHeader(message.headerStart..<message.headerEnd, names: names, exclude: true)
            case .mime: return .empty
            }
        }
    }
}

/// HEADER.FIELDS / HEADER.FIELDS.NOT (RFC 3501 §6.4.5): the matching (or non-matching) fields
/// of a header section, in their order and exact bytes, then the blank line.
public enum HeaderFieldFilter {
    public static func filter(_ header: [UInt8], names: [String], exclude: Bool) -> [UInt8] {
        let wanted = Set(names.map { $0.lowercased() })
        let reader = HeaderLineReader(bytes: header, end: header.count)
        var out: [UInt8] = []
        var position = 0
        var keeping = false
        while position < header.count {
            let (contentEnd, next) = reader.line(at: position)
            if contentEnd == position && next > position { break }   // the blank line
            let first = header[position]
            if first != ASCII.space && first != ASCII.tab {
                let field = reader.field(lineStart: position, contentEnd: contentEnd, next: next)
                let matches = wanted.contains(field.nameString.lowercased())
                keeping = matches != exclude
            }
            if keeping { out.append(contentsOf: header[position..<next]) }
            position = next
        }
        out.append(contentsOf: [ASCII.cr, ASCII.lf])
        return out
    }
}
