import Foundation
import MailCore

/// The trace fields Petrel writes (RFC 5321 §4.4, RFC 3848 protocol names).
enum TraceHeaders {
    /// `Received:` for a message accepted by this node, folded like Postfix's.
    static func received(heloName: String, clientIP: String, hostname: String, protocolName: String, tls: String?,
                         queueID: String, singleRecipient: String?, date: Date) -> String {
        var text = "Received: from \(sanitize(heloName)) ([\(clientIP)])\r\n"
        text += "\tby \(hostname) (Petrel) with \(protocolName) id \(queueID)"
        if let tls { text += "\r\n\t(using \(tls))" }
        if let singleRecipient { text += "\r\n\tfor <\(sanitize(singleRecipient))>" }
        text += "; \(RFC5322Date.string(date))\r\n"
        return text
    }

    /// RFC 3848: ESMTP, plus S for TLS and A for AUTH; UTF8SMTP… for SMTPUTF8 (RFC 6531 §3.7.3).
    static func protocolName(esmtp: Bool, tls: Bool, authenticated: Bool, smtputf8: Bool) -> String {
        guard esmtp else { return "SMTP" }
        var name = smtputf8 ? "UTF8SMTP" : "ESMTP"
        if tls { name += "S" }
        if authenticated { name += "A" }
        return name
    }

    static func returnPath(_ sender: String) -> String { "Return-Path: <\(sanitize(sender))>\r\n" }
    static func deliveredTo(_ address: String) -> String { "Delivered-To: \(sanitize(address))\r\n" }

    /// Keeps client-given text from breaking the header: no controls, no line ends.
    static func sanitize(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 32 && $0.value != 127 }.prefix(255).map(Character.init))
    }

    /// RFC 5321 §6.3: a message that has passed this many hosts is in a loop. The RFC asks
    /// for a threshold of at least 100 Received fields (Postfix's hopcount_limit is 50).
    static let maximumHops = 100

    /// The Received fields in the header section of `message` (up to its first empty line).
    static func hopCount(_ message: [UInt8]) -> Int {
        var count = 0
        var lineStart = 0
        let prefix = Array("received:".utf8)
        while lineStart < message.count {
            let end = message[lineStart...].firstIndex(of: 10) ?? message.count
            let line = message[lineStart..<end]
            if line.isEmpty || line == [13] { break }   // the end of the header section
            if line.count >= prefix.count,
               zip(line.prefix(prefix.count), prefix).allSatisfy({ ($0 | 0x20) == $1 }) {
                count += 1
            }
            lineStart = end + 1
        }
        return count
    }
}
