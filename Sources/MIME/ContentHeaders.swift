/// The Content-* fields of one body part (RFC 2045, RFC 2183, RFC 3066, RFC 2557, RFC 1864),
/// read the way BODYSTRUCTURE reports them. The first occurrence of each field counts. A part
/// that is not MIME (no MIME-Version, no Content-Type, not inside a multipart) has none.
public struct ContentHeaders: Sendable, Equatable {
    /// Type and subtype as written (case kept); `nil` when there is no Content-Type field.
    /// A broken field keeps what could be read, so `text` with no subtype gives ("text", "").
    public var type: [UInt8]?
    public var subtype: [UInt8]?
    public var parameters: [MIMEParameter] = []
    public var id: [UInt8]?
    public var description: [UInt8]?
    public var transferEncoding: [UInt8]?
    public var md5: [UInt8]?
    public var disposition: [UInt8]?
    public var dispositionParameters: [MIMEParameter] = []
    public var languages: [[UInt8]]?
    public var location: [UInt8]?

    public init() {}

    /// The Content-* data of a single Content-Type value (for tools and tests).
    public static func parse(contentType value: [UInt8], limits: MIMELimits = .default) -> ContentHeaders {
        ContentHeaders(fields: [HeaderField(name: Array("Content-Type".utf8), value: value, range: 0..<0)], isMIME: true, limits: limits)
    }

    init(fields: [HeaderField], isMIME: Bool, limits: MIMELimits) {
        guard isMIME else { return }
        for field in fields where ASCII.hasPrefixIgnoringCase(field.name, "Content-") {
            let suffix = field.name.dropFirst(8)
            if ASCII.equalsIgnoringCase(suffix, "Type") {
                if type == nil { readType(field.value, limits: limits) }
            } else if ASCII.equalsIgnoringCase(suffix, "Transfer-Encoding") {
                if transferEncoding == nil { readTransferEncoding(field.value) }
            } else if ASCII.equalsIgnoringCase(suffix, "ID") {
                if id == nil { id = field.value }
            } else if ASCII.equalsIgnoringCase(suffix, "Description") {
                if description == nil { description = field.value }
            } else if ASCII.equalsIgnoringCase(suffix, "MD5") {
                if md5 == nil { md5 = field.value }
            } else if ASCII.equalsIgnoringCase(suffix, "Location") {
                if location == nil { location = field.value }
            } else if ASCII.equalsIgnoringCase(suffix, "Language") {
                if languages == nil { readLanguages(field.value) }
            } else if ASCII.equalsIgnoringCase(suffix, "Disposition") {
                // Dovecot reads a later Content-Disposition while no parameters were found.
                if dispositionParameters.isEmpty { readDisposition(field.value, limits: limits) }
            }
        }
    }

    private mutating func readType(_ value: [UInt8], limits: MIMELimits) {
        var lexer = RFC822Lexer(value)
        lexer.skipCFWS()
        var text: [UInt8] = []
        let result = lexer.contentType(into: &text)
        if let slash = text.firstIndex(of: UInt8(ascii: "/")) {
            type = Array(text[..<slash])
            subtype = Array(text[(slash + 1)...])
        } else {
            type = text
            subtype = []
        }
        guard result != .failed else { return }
        parameters = RFC2231.parse(&lexer, limit: limits.maxParameters).parameters
    }

    private mutating func readTransferEncoding(_ value: [UInt8]) {
        var lexer = RFC822Lexer(value)
        lexer.skipCFWS()
        var token: [UInt8] = []
        if lexer.mimeToken(into: &token) != .failed, lexer.skipCFWS() == .end, !token.isEmpty {
            transferEncoding = token
        }
    }

    private mutating func readDisposition(_ value: [UInt8], limits: MIMELimits) {
        var lexer = RFC822Lexer(value)
        lexer.skipCFWS()
        var token: [UInt8] = []
        if lexer.mimeToken(into: &token) == .failed { return }
        disposition = token
        dispositionParameters = RFC2231.parse(&lexer, limit: limits.maxParameters).parameters
    }

    private mutating func readLanguages(_ value: [UInt8]) {
        var lexer = RFC822Lexer(value)
        var found: [[UInt8]] = []
        lexer.skipCFWS()
        while true {
            var atom: [UInt8] = []
            if lexer.atom(into: &atom) == .failed { break }
            found.append(atom)
            guard found.count < 256, let next = lexer.current, next == UInt8(ascii: ",") else { break }
            lexer.position += 1
            lexer.skipCFWS()
        }
        if !found.isEmpty { languages = found }
    }

    /// Lower-cased type/subtype, `text/plain` when absent.
    public var mimeType: String {
        guard let type else { return "text/plain" }
        return (type + [UInt8(ascii: "/")] + (subtype ?? [])).lossyString.lowercased()
    }

    public var charset: String? {
        parameters.first { $0.baseName == "charset" }.map(\.decodedValue)
    }

    /// The file name a mail client would show: Content-Disposition `filename`, else Content-Type `name`.
    public var filename: String? {
        (dispositionParameters.first { $0.baseName == "filename" } ?? parameters.first { $0.baseName == "name" })?.decodedValue
    }
}
