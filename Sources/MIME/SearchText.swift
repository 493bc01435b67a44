/// Text for SEARCH, made once when a message is stored: header values decoded (RFC 2047, any
/// charset) and the decoded text of every text/* part (transfer encoding and charset undone;
/// HTML kept as it is, tags and all, so a word inside it is still found).
public struct SearchText: Sendable, Equatable {
    /// `Name: decoded value` per header field of the message, one per line.
    public var headers: String
    /// Decoded body text of the text parts, at most `MIMELimits.maxSearchTextBytes` bytes.
    public var body: String

    public init(message: ParsedMessage, limits: MIMELimits = .default) {
        var headerText = ""
        for field in message.header {
            headerText += field.nameString
            headerText += ": "
            headerText += field.decodedValue
            headerText += "\n"
        }
        headers = headerText
        var text = ""
        var budget = limits.maxSearchTextBytes
        for (index, part) in message.parts.enumerated() where part.kind == .text && budget > 0 {
            let content = message.contents[index]
            var decoded = SearchText.decodeBody(message.raw[part.bodyStart..<part.bodyEnd], encoding: content.transferEncoding)
            if decoded.count > budget { decoded.removeSubrange(budget...) }
            let string = Charsets.decode(decoded, charset: content.charset ?? "us-ascii")
            budget -= decoded.count
            if !text.isEmpty { text += "\n" }
            text += string
        }
        body = text
    }

    static func decodeBody(_ bytes: ArraySlice<UInt8>, encoding: [UInt8]?) -> [UInt8] {
        guard let encoding else { return Array(bytes) }
        if ASCII.equalsIgnoringCase(encoding, "base64") { return TransferEncoding.decodeBase64(bytes) ?? [] }
        if ASCII.equalsIgnoringCase(encoding, "quoted-printable") { return TransferEncoding.decodeQuotedPrintable(Array(bytes)) }
        return Array(bytes)
    }
}
