/// The IMAP ENVELOPE of a message (RFC 3501 §7.4.2, RFC 9051 §7.5.2): header values as the
/// message wrote them (not decoded; clients decode RFC 2047 themselves) and parsed address lists.
public struct Envelope: Sendable, Equatable {
    public var date: [UInt8]?
    public var subject: [UInt8]?
    public var from: [IMAPAddress]?
    public var sender: [IMAPAddress]?
    public var replyTo: [IMAPAddress]?
    public var to: [IMAPAddress]?
    public var cc: [IMAPAddress]?
    public var bcc: [IMAPAddress]?
    public var inReplyTo: [UInt8]?
    public var messageID: [UInt8]?

    public init() {}

    /// Reads the envelope fields. For Date, Subject, In-Reply-To and Message-ID the last field
    /// counts; address fields that occur more than once are joined, so that no From line can
    /// hide behind another (a client shows them all).
    public init(fields: [HeaderField], limits: MIMELimits = .default) {
        var budget = limits.maxAddresses
        func merge(_ list: inout [IMAPAddress]?, _ field: HeaderField) {
            Envelope.merge(&list, field, budget: &budget)
        }
        for field in fields {
            switch field.name.count {
            case 2: if field.hasName("To") { merge(&to, field) } else if field.hasName("Cc") { merge(&cc, field) }
            case 3: if field.hasName("Bcc") { merge(&bcc, field) }
            case 4:
                if field.hasName("Date") { date = field.value } else if field.hasName("From") { merge(&from, field) }
            case 6: if field.hasName("Sender") { merge(&sender, field) }
            case 7: if field.hasName("Subject") { subject = field.value }
            case 8: if field.hasName("Reply-To") { merge(&replyTo, field) }
            case 10: if field.hasName("Message-ID") { messageID = field.value }
            case 11: if field.hasName("In-Reply-To") { inReplyTo = field.value }
            default: break
            }
        }
    }

    private static func merge(_ list: inout [IMAPAddress]?, _ field: HeaderField, budget: inout Int) {
        // A NUL ends the value for address parsing, as in Dovecot (C strings).
        let value = field.value.firstIndex(of: 0).map { Array(field.value[..<$0]) } ?? field.value
        let parsed = AddressListParser.parse(value, maxAddresses: budget)
        budget = max(0, budget - parsed.count)
        if list == nil { list = parsed } else { list! += parsed }
    }

    /// The parenthesised ENVELOPE (without the surrounding `ENVELOPE ` label). Sender and
    /// Reply-To default to From (RFC 3501 §7.4.2: "the server MUST set them to From").
    public var imapBytes: [UInt8] {
        var writer = IMAPStringWriter()
        writer.append(UInt8(ascii: "("))
        write(into: &writer)
        writer.append(UInt8(ascii: ")"))
        return writer.bytes
    }

    func write(into writer: inout IMAPStringWriter) {
        writer.nstringUnfolded(date)
        writer.append(ASCII.space)
        if let subject { writer.humanString(subject) } else { writer.append("NIL") }
        let from = self.from.flatMap { $0.isEmpty ? nil : $0 }
        let sender = self.sender.flatMap { $0.isEmpty ? nil : $0 }
        let replyTo = self.replyTo.flatMap { $0.isEmpty ? nil : $0 }
        for list in [from, sender ?? from, replyTo ?? from, to, cc, bcc] {
            writer.append(ASCII.space)
            Envelope.writeAddresses(list, into: &writer)
        }
        writer.append(ASCII.space)
        writer.nstringUnfolded(inReplyTo)
        writer.append(ASCII.space)
        writer.nstringUnfolded(messageID)
    }

    private static func writeAddresses(_ list: [IMAPAddress]?, into writer: inout IMAPStringWriter) {
        guard let list, !list.isEmpty else { writer.append("NIL"); return }
        writer.append(UInt8(ascii: "("))
        for address in list {
            writer.append(UInt8(ascii: "("))
            if let name = address.name { writer.humanString(name) } else { writer.append("NIL") }
            writer.append(ASCII.space)
            writer.nstring(address.route)
            writer.append(ASCII.space)
            writer.nstring(address.mailbox)
            writer.append(ASCII.space)
            writer.nstring(address.host)
            writer.append(UInt8(ascii: ")"))
        }
        writer.append(UInt8(ascii: ")"))
    }
}
