/// Writes IMAP BODY and BODYSTRUCTURE (RFC 3501 §7.4.2 / RFC 9051 §7.5.2) for a parsed
/// message, field for field as Dovecot 2.3 writes them: text parts get a default
/// `("charset" "us-ascii")`; a part without Content-Type is `"text" "plain"`; a multipart with
/// no parts reports one empty text/plain part; BODYSTRUCTURE adds MD5, disposition, language
/// and location to every part, and parameters, disposition, language and location to multiparts.
struct BodyStructureWriter {
    let message: ParsedMessage
    let extended: Bool
    var writer = IMAPStringWriter()

    static let emptyBody = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
    static let emptyBodyStructure = "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)"

    init(message: ParsedMessage, extended: Bool) {
        self.message = message
        self.extended = extended
    }

    mutating func write(part index: Int) {
        if index == 0, isPlain7BitText {
            // Dovecot recognises a plain 7-bit US-ASCII text message and answers with the
            // canonical lower-case form, whatever case the header used.
            let part = message.parts[0]
            writer.append("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" \(part.bodyOctets) \(part.bodyLines)")
            writer.append(extended ? " NIL NIL NIL NIL)" : ")")
            return
        }
        writer.append(UInt8(ascii: "("))
        if message.parts[index].kind == .multipart {
            writeMultipart(index)
        } else {
            writeSingle(index)
        }
        writer.append(UInt8(ascii: ")"))
    }

    /// text/plain, at most `charset=us-ascii`, 7bit, and no other Content-* field.
    private var isPlain7BitText: Bool {
        let part = message.parts[0]
        let content = message.contents[0]
        guard part.kind == .text, part.children.isEmpty else { return false }
        if let subtype = content.subtype, !ASCII.equalsIgnoringCase(subtype, "plain") { return false }
        if !content.parameters.isEmpty {
            guard content.parameters.count == 1, ASCII.equalsIgnoringCase(content.parameters[0].name, "charset"),
                  ASCII.equalsIgnoringCase(content.parameters[0].value, "us-ascii") else { return false }
        }
        if content.id != nil || content.description != nil { return false }
        if let encoding = content.transferEncoding, !ASCII.equalsIgnoringCase(encoding, "7bit") { return false }
        return content.md5 == nil && content.disposition == nil && content.languages == nil && content.location == nil
    }

    private mutating func writeMultipart(_ index: Int) {
        let part = message.parts[index]
        let content = message.contents[index]
        if part.children.isEmpty {
            writer.append(extended ? BodyStructureWriter.emptyBodyStructure : BodyStructureWriter.emptyBody)
        } else {
            for child in part.children { write(part: child) }
        }
        writer.append(ASCII.space)
        writer.string(content.subtype ?? [])
        guard extended else { return }
        writer.append(ASCII.space)
        writeParameters(content.parameters, defaultCharset: false)
        writeCommonExtension(content)
    }

    private mutating func writeSingle(_ index: Int) {
        let part = message.parts[index]
        let content = message.contents[index]
        let text: Bool
        if part.kind == .message {
            writer.append("\"message\" \"rfc822\"")
            text = false
        } else if let type = content.type {
            text = ASCII.equalsIgnoringCase(type, "text")
            writer.string(type)
            writer.append(ASCII.space)
            writer.string(content.subtype ?? [])
        } else {
            text = true
            writer.append("\"text\" \"plain\"")
        }
        writer.append(ASCII.space)
        writeParameters(content.parameters, defaultCharset: text)
        writer.append(ASCII.space)
        writer.nstringUnfolded(content.id)
        writer.append(ASCII.space)
        writer.nstringUnfolded(content.description)
        writer.append(ASCII.space)
        if let encoding = content.transferEncoding { writer.string(encoding) } else { writer.append("\"7bit\"") }
        writer.append(" \(part.bodyOctets)")
        if text {
            writer.append(" \(part.bodyLines)")
        } else if part.kind == .message, let child = part.children.first {
            writer.append(" (")
            (message.envelopes[child] ?? Envelope()).write(into: &writer)
            writer.append(") ")
            write(part: child)
            writer.append(" \(part.bodyLines)")
        }
        guard extended else { return }
        writer.append(ASCII.space)
        writer.nstringUnfolded(content.md5)
        writeCommonExtension(content)
    }

    private mutating func writeParameters(_ parameters: [MIMEParameter], defaultCharset: Bool) {
        if parameters.isEmpty && !defaultCharset { writer.append("NIL"); return }
        writer.append(UInt8(ascii: "("))
        var sawCharset = false
        for (offset, parameter) in parameters.enumerated() {
            if offset > 0 { writer.append(ASCII.space) }
            if ASCII.equalsIgnoringCase(parameter.name, "charset") { sawCharset = true }
            writer.string(parameter.name)
            writer.append(ASCII.space)
            writer.string(parameter.value)
        }
        if defaultCharset && !sawCharset {
            if !parameters.isEmpty { writer.append(ASCII.space) }
            writer.append("\"charset\" \"us-ascii\"")
        }
        writer.append(UInt8(ascii: ")"))
    }

    private mutating func writeCommonExtension(_ content: ContentHeaders) {
        writer.append(ASCII.space)
        if let disposition = content.disposition {
            writer.append(UInt8(ascii: "("))
            writer.string(disposition)
            writer.append(ASCII.space)
            writeParameters(content.dispositionParameters, defaultCharset: false)
            writer.append(UInt8(ascii: ")"))
        } else {
            writer.append("NIL")
        }
        writer.append(ASCII.space)
        if let languages = content.languages {
            writer.append(UInt8(ascii: "("))
            for (offset, language) in languages.enumerated() {
                if offset > 0 { writer.append(ASCII.space) }
                writer.string(language)
            }
            writer.append(UInt8(ascii: ")"))
        } else {
            writer.append("NIL")
        }
        writer.append(ASCII.space)
        writer.nstringUnfolded(content.location)
    }
}
