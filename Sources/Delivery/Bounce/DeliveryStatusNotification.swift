import Foundation
import MailCore

/// A delivery status notification (RFC 3464 `multipart/report; report-type=delivery-status`,
/// RFC 6522): a human-readable part, the machine-readable delivery status with one block per
/// recipient, and the original message's header (`text/rfc822-headers`). Either a bounce
/// (`Action: failed`) or a delay warning (`Action: delayed`, with `Will-Retry-Until`).
public struct DeliveryStatusNotification: Sendable {
    public enum Kind: Sendable, Equatable {
        case failure
        /// Still queued; retried until the date (then bounced).
        case delay(retryUntil: Date)
    }

    public struct Failure: Sendable, Equatable {
        public var recipient: String
        /// What the next hop or Petrel said: "550 5.1.1 <x@y>: unknown user", or a reason of ours.
        public var diagnostic: String

        public init(recipient: String, diagnostic: String) {
            self.recipient = recipient
            self.diagnostic = diagnostic
        }

        /// The RFC 3463 status: the enhanced code in the diagnostic when it has one, else
        /// 5.0.0 (4.0.0 in a delay warning).
        func status(default fallback: String = "5.0.0") -> String {
            let words = diagnostic.split(separator: " ")
            for word in words.prefix(4) {
                let parts = word.split(separator: ".", omittingEmptySubsequences: false)
                if parts.count == 3, parts[0] == "5" || parts[0] == "4",
                   parts[1].count <= 3, parts[2].count <= 3, parts.dropFirst().allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
                    return parts.joined(separator: ".")
                }
            }
            return fallback
        }

        /// An SMTP reply (it starts with a 5xx/4xx code) goes into Diagnostic-Code.
        var smtpReply: String? {
            // "RCPT: 550 …" (what the client saw at a step) or "550 …" (a decision of ours).
            var code = diagnostic
            if let colon = diagnostic.firstIndex(of: ":"), diagnostic[..<colon].allSatisfy(\.isUppercase) {
                code = diagnostic[diagnostic.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            guard code.count >= 3, let number = Int(code.prefix(3)), (400...599).contains(number) else { return nil }
            return code
        }
    }

    public var reportingMTA: String
    public var queueID: String
    public var originalSender: String
    public var arrivalDate: Date
    /// The recipients reported on (failed, or delayed).
    public var failures: [Failure]
    /// The original message (its header is attached).
    public var original: [UInt8]
    public var kind: Kind = .failure

    public init(reportingMTA: String, queueID: String, originalSender: String, arrivalDate: Date, failures: [Failure],
                original: [UInt8]) {
        self.reportingMTA = reportingMTA
        self.queueID = queueID
        self.originalSender = originalSender
        self.arrivalDate = arrivalDate
        self.failures = failures
        self.original = original
    }

    /// The report as a message, CR LF lines.
    public func render(date: Date = Date(), boundary: String = UUID().uuidString) -> [UInt8] {
        let crlf = "\r\n"
        var text = ""
        text += "From: Mail Delivery System <MAILER-DAEMON@\(reportingMTA)>" + crlf
        text += "To: <\(Self.clean(originalSender))>" + crlf
        switch kind {
        case .failure: text += "Subject: Undelivered Mail Returned to Sender" + crlf
        case .delay: text += "Subject: Delayed Mail (still being retried)" + crlf
        }
        text += "Date: \(RFC5322Date.string(date))" + crlf
        text += "Message-ID: <\(queueID).\(Int(date.timeIntervalSince1970))@\(reportingMTA)>" + crlf
        text += "Auto-Submitted: auto-replied" + crlf
        text += "MIME-Version: 1.0" + crlf
        text += "Content-Type: multipart/report; report-type=delivery-status;" + crlf
        text += "\tboundary=\"\(boundary)\"" + crlf
        text += crlf
        text += "This is a MIME-encapsulated message." + crlf + crlf
        text += "--\(boundary)" + crlf
        text += "Content-Description: Notification" + crlf
        text += "Content-Type: text/plain; charset=utf-8" + crlf
        text += "Content-Transfer-Encoding: 8bit" + crlf + crlf
        text += "This is the mail system at host \(reportingMTA)." + crlf + crlf
        switch kind {
        case .failure:
            text += "Your message could not be delivered to one or more recipients." + crlf
            text += "It is attached below (its header only)." + crlf + crlf
        case .delay(let until):
            text += "####################################################################" + crlf
            text += "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #" + crlf
            text += "####################################################################" + crlf + crlf
            text += "Your message could not be delivered yet to one or more recipients." + crlf
            text += "It will be retried until \(RFC5322Date.string(until))." + crlf
            text += "Its header is attached below." + crlf + crlf
        }
        for failure in failures {
            text += "<\(Self.clean(failure.recipient))>: \(Self.clean(failure.diagnostic))" + crlf
        }
        text += crlf + "--\(boundary)" + crlf
        text += "Content-Description: Delivery report" + crlf
        text += "Content-Type: message/delivery-status" + crlf + crlf
        // RFC 3464 §2.2: the per-message fields, then one block per recipient.
        text += "Reporting-MTA: dns; \(reportingMTA)" + crlf
        text += "X-Petrel-Queue-ID: \(queueID)" + crlf
        text += "Arrival-Date: \(RFC5322Date.string(arrivalDate))" + crlf
        for failure in failures {
            text += crlf
            text += "Final-Recipient: rfc822; \(Self.clean(failure.recipient))" + crlf
            switch kind {
            case .failure:
                text += "Action: failed" + crlf
                text += "Status: \(failure.status())" + crlf
            case .delay:
                text += "Action: delayed" + crlf
                text += "Status: \(failure.status(default: "4.0.0"))" + crlf
            }
            if let reply = failure.smtpReply { text += "Diagnostic-Code: smtp; \(Self.clean(reply))" + crlf }
            if case .delay(let until) = kind { text += "Will-Retry-Until: \(RFC5322Date.string(until))" + crlf }
        }
        text += crlf + "--\(boundary)" + crlf
        text += "Content-Description: \(kind == .failure ? "Undelivered" : "Delayed") Message Headers" + crlf
        text += "Content-Type: text/rfc822-headers" + crlf + crlf
        var out = Array(text.utf8)
        out += Self.header(of: original)
        out += Array((crlf + "--\(boundary)--" + crlf).utf8)
        return out
    }

    /// The header of a CR LF message, up to and including its last line (not the blank line).
    static func header(of message: [UInt8]) -> [UInt8] {
        var index = 0
        while index + 1 < message.count {
            if message[index] == 13 && message[index + 1] == 10 {
                if index == 0 { return [] }
                if index + 3 < message.count && message[index + 2] == 13 && message[index + 3] == 10 {
                    return Array(message[..<(index + 2)])
                }
            }
            index += 1
        }
        return message.isEmpty || message.last == 10 ? message : message + [13, 10]
    }

    /// No line breaks or controls from a remote reply in our header fields.
    static func clean(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 32 && $0.value != 127 }.prefix(900).map(Character.init))
    }
}
