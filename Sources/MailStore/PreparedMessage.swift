import Crypto
import Foundation
import MIME

/// A message made ready for storing, before any transaction starts: line endings made CR LF,
/// parsed once, hashed, its IMAP renderings and search text computed. Delivery transactions
/// then only write rows.
public struct PreparedMessage: Sendable {
    public let raw: [UInt8]
    public let sha256: [UInt8]
    public let envelope: [UInt8]
    public let bodyStructure: [UInt8]
    public let body: [UInt8]
    public let structureJSON: String
    public let sentOn: String?
    public let headerText: String
    public let bodyText: String
    /// The words of the body-search index when the node can make them (`SearchWords.indexWords`);
    /// nil: the database makes them.
    public let searchWords: [String]?

    public var size: Int { raw.count }

    public init(raw received: [UInt8], limits: MIMELimits = .default) {
        let raw = ParsedMessage.canonicalLineEndings(received)
        let parsed = ParsedMessage(raw, limits: limits)
        self.raw = raw
        sha256 = Array(SHA256.hash(data: raw))
        envelope = parsed.envelopeBytes
        bodyStructure = parsed.bodyStructureBytes
        body = parsed.bodyBytes
        structureJSON = parsed.structure.jsonText
        if let date = parsed.header.all(named: "Date").last, let day = DateHeader.day(date.value) {
            sentOn = Self.digits(day.year, 4) + "-" + Self.digits(day.month, 2) + "-" + Self.digits(day.day, 2)
        } else {
            sentOn = nil
        }
        let search = SearchText(message: parsed, limits: limits)
        // PostgreSQL text cannot hold NUL.
        headerText = Self.withoutNUL(search.headers)
        bodyText = Self.withoutNUL(search.body)
        searchWords = SearchWords.indexWords(headerText, bodyText)
    }

    /// `n` in decimal, zero-padded to `width` digits.
    static func digits(_ n: Int, _ width: Int) -> String {
        let text = String(n)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    /// PostgreSQL text cannot hold NUL: each becomes U+FFFD (scanned first, as almost no
    /// message has one).
    static func withoutNUL(_ text: String) -> String {
        guard text.utf8.contains(0) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value == 0 ? "\u{FFFD}" : $0 }))
    }
}
