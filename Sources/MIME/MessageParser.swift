/// Splits a raw message into its body-part tree (RFC 5322 header sections, RFC 2046 multipart
/// boundaries, RFC 2046 §5.2.1 message/rfc822), in one pass that only moves forward.
///
/// The rules for broken input are Dovecot's, so that BODYSTRUCTURE and section numbers agree
/// with it byte for byte: a boundary line only has to *start* with `--boundary` (RFC 2046 §5.1.1
/// allows trailing whitespace, and mailers add more); the longest matching boundary of any open
/// multipart wins, and a boundary of an outer multipart closes every inner part; the line break
/// before a boundary belongs to the boundary; a missing close-delimiter ends parts at the end
/// of the message; a header section cut short by a boundary ends there.
struct MessageParser {
    private struct Boundary {
        var bytes: [UInt8]
        var part: Int
    }

    private enum Step {
        case header(part: Int, at: Int)
        case body(part: Int, at: Int)
        case scan(part: Int, at: Int)
        case done
    }

    private let bytes: [UInt8]
    private let end: Int
    private let limits: MIMELimits
    private let reader: HeaderLineReader
    private(set) var parts: [MessagePart] = []
    private var boundaries: [Boundary] = []
    /// Whether each part pushed its own boundary (it is a multipart we follow).
    private var followsBoundary: [Bool] = []
    /// Header fields kept so far, all parts together.
    private var keptFields = 0

    init(bytes: [UInt8], limits: MIMELimits) {
        self.bytes = bytes
        self.end = bytes.count
        self.limits = limits
        self.reader = HeaderLineReader(bytes: bytes, end: bytes.count)
    }

    mutating func parse() -> [MessagePart] {
        parts = [MessagePart(kind: .text, parent: nil, headerStart: 0)]
        followsBoundary = [false]
        var step = Step.header(part: 0, at: 0)
        while true {
            switch step {
            case .header(let part, let at): step = parseHeader(part: part, from: at)
            case .body(let part, let at): step = body(part: part, from: at)
            case .scan(let part, let at): step = scanToBoundary(part: part, from: at)
            case .done:
                computeSizes()
                return parts
            }
        }
    }

    // MARK: Header section

    private mutating func parseHeader(part index: Int, from start: Int) -> Step {
        var position = start
        var previousNewline = 0
        var current: HeaderField?
        var sawMIMEVersion = false
        var contentType: (kind: MessagePart.Kind, digest: Bool, boundary: [UInt8]?)?
        var pushedBoundary = false

        func finish(_ field: HeaderField?, into parts: inout [MessagePart], kept keptFields: inout Int) {
            guard let field else { return }
            if field.hasName("MIME-Version") { sawMIMEVersion = true }
            if field.hasName("Content-Type"), contentType == nil { contentType = MessageParser.classify(field, limits: limits) }
            if parts[index].fields.count < limits.maxHeaderFields, keptFields < limits.maxHeaderFieldsTotal {
                parts[index].fields.append(field)
                keptFields += 1
            }
        }

        while true {
            if position >= end {
                finish(current, into: &parts, kept: &keptFields)
                parts[index].headerEnd = end
                parts[index].bodyStart = end
                settleKind(index, contentType: contentType, sawMIMEVersion: sawMIMEVersion)
                return closeAtEnd(from: index)
            }
            let (contentEnd, next) = reader.line(at: position)
            let first = bytes[position]
            if current != nil, first == ASCII.space || first == ASCII.tab {
                reader.extend(&current!, lineStart: position, contentEnd: contentEnd, next: next)
                previousNewline = next - contentEnd
                position = next
                continue
            }
            finish(current, into: &parts, kept: &keptFields)
            current = nil
            let blank = contentEnd == position && next > position
            if blank, !pushedBoundary, let type = contentType, type.kind == .multipart, let boundary = type.boundary,
               canNest(index) {
                // Known to be a multipart before its body starts, so that its own boundary is
                // in the stack when the body is scanned (nested boundaries may share a prefix).
                boundaries.append(Boundary(bytes: boundary, part: index))
                followsBoundary[index] = true
                pushedBoundary = true
            }
            if !boundaries.isEmpty, let found = boundaryAt(position, contentEnd: contentEnd), boundaries[found].part != index {
                // An enclosing boundary interrupts this header: the header ends before the line
                // break, which belongs to the boundary.
                parts[index].headerEnd = position - previousNewline
                parts[index].bodyStart = position
                settleKind(index, contentType: contentType, sawMIMEVersion: sawMIMEVersion)
                return .body(part: index, at: position)
            }
            if blank {
                parts[index].headerEnd = next
                parts[index].bodyStart = next
                settleKind(index, contentType: contentType, sawMIMEVersion: sawMIMEVersion)
                return .body(part: index, at: next)
            }
            current = reader.field(lineStart: position, contentEnd: contentEnd, next: next)
            previousNewline = next - contentEnd
            position = next
        }
    }

    /// Content-Type → kind and boundary, as the structure parser needs them (RFC 2045 §5.1).
    private static func classify(_ field: HeaderField, limits: MIMELimits) -> (kind: MessagePart.Kind, digest: Bool, boundary: [UInt8]?) {
        var lexer = RFC822Lexer(field.value)
        lexer.skipCFWS()
        var type: [UInt8] = []
        let result = lexer.contentType(into: &type)
        var kind = MessagePart.Kind.other
        var digest = false
        if ASCII.equalsIgnoringCase(type, "message/rfc822") {
            kind = .message
        } else if ASCII.hasPrefixIgnoringCase(type, "text") && (type.count == 4 || type[4] == UInt8(ascii: "/")) {
            kind = .text
        } else if ASCII.hasPrefixIgnoringCase(type, "multipart/") {
            kind = .multipart
            digest = ASCII.equalsIgnoringCase(type.dropFirst(10), "digest")
        }
        guard result != .failed, kind == .multipart else { return (kind, digest, nil) }
        let parameters = RFC2231.parse(&lexer, limit: limits.maxParameters).parameters
        let boundary = parameters.first { ASCII.equalsIgnoringCase($0.name, "boundary") }?.value
        return (kind, digest, boundary)
    }

    private func canNest(_ index: Int) -> Bool {
        parts[index].depth < limits.maxNestingDepth && parts.count < limits.maxParts
    }

    /// The part's kind once its header is complete (Dovecot's end-of-header rules).
    private mutating func settleKind(_ index: Int, contentType: (kind: MessagePart.Kind, digest: Bool, boundary: [UInt8]?)?,
                                     sawMIMEVersion: Bool) {
        let isMIME = parts[index].isMIME || sawMIMEVersion || contentType != nil
        parts[index].isMIME = isMIME
        let parentIsDigest = parts[index].parent.map { parts[$0].isDigest } ?? false
        if let contentType, isMIME {
            parts[index].kind = contentType.kind
            parts[index].isDigest = contentType.digest
        } else {
            parts[index].kind = parentIsDigest ? .message : .text
        }
        if parts[index].kind == .message && !canNest(index) { parts[index].kind = .other }
        if parts[index].kind == .multipart && !followsBoundary[index] && contentType?.boundary != nil {
            // A boundary we declined to follow (limits): the body is opaque.
            parts[index].kind = .other
        }
    }

    // MARK: Bodies

    private mutating func body(part index: Int, from start: Int) -> Step {
        if followsBoundary[index] { return .scan(part: index, at: start) }
        if parts[index].kind == .message {
            let child = appendPart(parent: index, at: start, inheritsMIME: false)
            return .header(part: child, at: start)
        }
        if !boundaries.isEmpty { return .scan(part: index, at: start) }
        return closeAtEnd(from: index)
    }

    private mutating func appendPart(parent: Int, at start: Int, inheritsMIME: Bool) -> Int {
        var part = MessagePart(kind: .text, parent: parent, headerStart: start)
        part.depth = parts[parent].depth + 1
        part.isMIME = inheritsMIME
        parts.append(part)
        followsBoundary.append(false)
        let index = parts.count - 1
        parts[parent].children.append(index)
        return index
    }

    /// Reads body lines of `index` until a boundary of an open multipart starts a line.
    private mutating func scanToBoundary(part index: Int, from start: Int) -> Step {
        var position = start
        while position < end {
            let (contentEnd, next) = reader.line(at: position)
            if bytes[position] == ASCII.dash, let found = boundaryAt(position, contentEnd: contentEnd) {
                var bodyEnd = position
                if position > start {
                    bodyEnd -= 1                                   // the LF
                    if bodyEnd > start, bytes[bodyEnd - 1] == ASCII.cr { bodyEnd -= 1 }
                }
                return finishPart(at: found, lineStart: position, lineEnd: contentEnd, lineNext: next, bodyEnd: bodyEnd, from: index)
            }
            position = next
        }
        return closeAtEnd(from: index)
    }

    /// A boundary line was found: close parts up to the boundary's multipart, then start its
    /// next child, or read its epilogue after the close-delimiter.
    private mutating func finishPart(at boundaryIndex: Int, lineStart: Int, lineEnd: Int, lineNext: Int, bodyEnd: Int,
                                     from index: Int) -> Step {
        let boundary = boundaries[boundaryIndex]
        var open: Int? = index
        while let current = open, current != boundary.part {
            parts[current].bodyEnd = bodyEnd
            open = parts[current].parent
        }
        let afterName = lineStart + 2 + boundary.bytes.count
        let closing = afterName + 1 < end && bytes[afterName] == ASCII.dash && bytes[afterName + 1] == ASCII.dash
            && afterName + 2 <= lineEnd
        if closing {
            boundaries.removeSubrange(boundaryIndex...)
        } else {
            boundaries.removeSubrange((boundaryIndex + 1)...)
        }
        let multipart = boundary.part
        if let innermost = boundaries.last, innermost.part == multipart {
            if parts.count >= limits.maxParts {
                // Out of parts: the rest is opaque body of this multipart.
                boundaries.removeLast()
                return boundaries.isEmpty ? closeAtEnd(from: multipart) : .scan(part: multipart, at: lineNext)
            }
            let child = appendPart(parent: multipart, at: lineNext, inheritsMIME: true)
            return .header(part: child, at: lineNext)
        }
        return boundaries.isEmpty ? closeAtEnd(from: multipart) : .scan(part: multipart, at: lineNext)
    }

    /// The message ends: every open part ends with it.
    private mutating func closeAtEnd(from index: Int) -> Step {
        var open: Int? = index
        while let current = open {
            parts[current].bodyEnd = end
            open = parts[current].parent
        }
        return .done
    }

    /// The boundary (index into `boundaries`) that the line at `start` opens with, if any:
    /// `--` then the longest open boundary that is a prefix of the rest of the line.
    private func boundaryAt(_ start: Int, contentEnd: Int) -> Int? {
        guard contentEnd - start >= 2, bytes[start] == ASCII.dash, bytes[start + 1] == ASCII.dash else { return nil }
        let available = contentEnd - start - 2
        var best: Int?
        for (index, boundary) in boundaries.enumerated().reversed() {
            let length = boundary.bytes.count
            guard length <= available, best.map({ boundaries[$0].bytes.count < length }) ?? true else { continue }
            var matches = true
            var offset = 0
            while offset < length {
                if bytes[start + 2 + offset] != boundary.bytes[offset] { matches = false; break }
                offset += 1
            }
            if matches { best = index }
        }
        return best
    }

    // MARK: Sizes

    /// Octet and line counts for every part, in one pass over the message: the counts of LF
    /// and of bare LF are sampled at each part offset.
    private mutating func computeSizes() {
        var offsets: [Int] = []
        offsets.reserveCapacity(parts.count * 4)
        for part in parts {
            offsets.append(part.headerStart)
            offsets.append(part.headerEnd)
            offsets.append(part.bodyStart)
            offsets.append(part.bodyEnd)
        }
        let sorted = Array(Set(offsets)).sorted()
        var lineFeeds: [Int: Int] = [:]
        var bareLineFeeds: [Int: Int] = [:]
        var lfCount = 0
        var bareCount = 0
        var position = 0
        for offset in sorted {
            while position < offset {
                if bytes[position] == ASCII.lf {
                    lfCount += 1
                    if position == 0 || bytes[position - 1] != ASCII.cr { bareCount += 1 }
                }
                position += 1
            }
            lineFeeds[offset] = lfCount
            bareLineFeeds[offset] = bareCount
        }
        for index in parts.indices {
            let part = parts[index]
            let headerBare = bareLineFeeds[part.headerEnd]! - bareLineFeeds[part.headerStart]!
            let bodyBare = bareLineFeeds[part.bodyEnd]! - bareLineFeeds[part.bodyStart]!
            parts[index].headerOctets = part.headerEnd - part.headerStart + headerBare
            parts[index].bodyOctets = part.bodyEnd - part.bodyStart + bodyBare
            parts[index].bodyLines = lineFeeds[part.bodyEnd]! - lineFeeds[part.bodyStart]!
        }
    }
}
