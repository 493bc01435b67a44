/// A raw message parsed once: its part tree, each part's Content-* fields, the envelopes of the
/// message and of every encapsulated message/rfc822, and the IMAP renderings of all of them.
/// Pure: no I/O, linear in the message size, bounded by `MIMELimits`.
public struct ParsedMessage: Sendable {
    public let raw: [UInt8]
    /// Parts in pre-order; index 0 is the message itself.
    public let parts: [MessagePart]
    public let contents: [ContentHeaders]
    /// Envelope of the message (key 0) and of the message inside each message/rfc822 part
    /// (keyed by that inner part's index).
    public let envelopes: [Int: Envelope]

    public init(_ raw: [UInt8], limits: MIMELimits = .default) {
        self.raw = raw
        var parser = MessageParser(bytes: raw, limits: limits)
        let parts = parser.parse()
        self.parts = parts
        self.contents = parts.map { ContentHeaders(fields: $0.fields, isMIME: $0.isMIME, limits: limits) }
        var envelopes: [Int: Envelope] = [0: Envelope(fields: parts[0].fields, limits: limits)]
        for part in parts where part.kind == .message {
            if let child = part.children.first { envelopes[child] = Envelope(fields: parts[child].fields, limits: limits) }
        }
        self.envelopes = envelopes
    }

    public var header: [HeaderField] { parts[0].fields }
    public var envelope: Envelope { envelopes[0]! }

    /// RFC822.SIZE: the message's octets as served, bare LFs counted as CR LF.
    public var size: Int { parts[0].headerOctets + parts[0].bodyOctets }

    /// ENVELOPE, BODY and BODYSTRUCTURE as IMAP sends them (each a parenthesised list).
    public var envelopeBytes: [UInt8] { envelope.imapBytes }
    public var bodyBytes: [UInt8] { render(extended: false) }
    public var bodyStructureBytes: [UInt8] { render(extended: true) }

    private func render(extended: Bool) -> [UInt8] {
        var writer = BodyStructureWriter(message: self, extended: extended)
        writer.write(part: 0)
        return writer.writer.bytes
    }

    /// The byte layout used to answer BODY[section] requests without parsing again.
    public var structure: MessageStructure { MessageStructure(parts: parts) }
}

extension ParsedMessage {
    /// A message with every bare LF turned into CR LF (and a lone CR left alone), the form in
    /// which Petrel stores and serves mail: IMAP and POP3 send CR LF lines (RFC 3501 §2.2,
    /// RFC 1939 §3), so sizes and byte ranges stay exact on the wire.
    public static func canonicalLineEndings(_ raw: [UInt8]) -> [UInt8] {
        var bareCount = 0
        for index in raw.indices where raw[index] == ASCII.lf && (index == 0 || raw[index - 1] != ASCII.cr) { bareCount += 1 }
        guard bareCount > 0 else { return raw }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count + bareCount)
        for index in raw.indices {
            if raw[index] == ASCII.lf && (index == 0 || raw[index - 1] != ASCII.cr) { out.append(ASCII.cr) }
            out.append(raw[index])
        }
        return out
    }
}
