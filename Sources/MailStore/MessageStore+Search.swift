import Foundation
import MIME
import PostgresNIO

/// What SEARCH asks of the store (RFC 3501 §6.4.4), with the session-only parts (message
/// numbers, \Recent) already turned into UID sets by the caller.
public indirect enum MessageSearch: Sendable, Equatable {
    case all
    /// Messages with (`true`) or without all of these system flags.
    case flags(MessageFlags, Bool)
    case keyword(String, Bool)
    /// A header field `name` whose decoded value contains `substring` (case-insensitive; an
    /// empty substring: the field exists).
    case header(name: String, substring: String)
    /// Decoded body text contains it.
    case body(String)
    /// Header or body text contains it.
    case text(String)
    /// Internal date (UTC day): before, on, since.
    case receivedBefore(Date), receivedOn(Date), receivedSince(Date)
    /// Date: header (day): before, on, since.
    case sentBefore(Date), sentOn(Date), sentSince(Date)
    case larger(Int64), smaller(Int64)
    case uids(UIDSet)
    case modSeqAtLeast(Int64)
    case not(MessageSearch)
    case or(MessageSearch, MessageSearch)
    case and([MessageSearch])
}

extension MessageStore {
    /// The UIDs of the mailbox's messages that match, ascending. One statement: every key is a
    /// bound parameter, never SQL text; text keys are exact case-insensitive substring matches
    /// over the decoded header and body text stored at delivery.
    public func search(accountID: Int64, mailboxID: Int64, _ criteria: MessageSearch) async throws -> [UInt32] {
        var builder = SearchSQL()
        let account = builder.bind(accountID)
        let mailbox = builder.bind(mailboxID)
        let condition = builder.condition(criteria)
        let sql = """
            SELECT m.uid FROM messages m JOIN message_bodies b ON b.id = m.body_id
            WHERE m.account_id = \(account) AND m.mailbox_id = \(mailbox) AND (\(condition)) ORDER BY m.uid
            """
        let rows = try await database.query(PostgresQuery(unsafeSQL: sql, binds: builder.bindings))
        var out: [UInt32] = []
        for try await uid in rows.decode(Int64.self) { out.append(UInt32(truncatingIfNeeded: uid)) }
        return out
    }
}

/// Turns a `MessageSearch` into a WHERE condition with `$n` parameters.
struct SearchSQL {
    var bindings = PostgresBindings()
    private var count = 0

    /// Appends a parameter; returns its placeholder (`$3`).
    mutating func bind<Value: PostgresNonThrowingEncodable>(_ value: Value) -> String {
        count += 1
        bindings.append(value)
        return "$\(count)"
    }

    /// The start of the UTC day of `date`, and of the next.
    static func day(_ date: Date) -> (Date, Date) {
        let seconds = floor(date.timeIntervalSince1970 / 86400) * 86400
        return (Date(timeIntervalSince1970: seconds), Date(timeIntervalSince1970: seconds + 86400))
    }

    /// The word-index test a text containing `substring` must pass (`SearchWords`), served by
    /// the GIN index; empty when the needle proves nothing. Rows without words always pass.
    mutating func prefilter(_ substring: String) -> String {
        let prefixes = SearchWords.requiredPrefixes(substring)
        guard !prefixes.isEmpty else { return "" }
        // Each prefix quoted as a tsquery literal (the words are ASCII letters and digits).
        let query = prefixes.map { "'\($0)':*" }.joined(separator: " & ")
        return "(b.search_words IS NULL OR b.search_words @@ \(bind(query))::tsquery) AND "
    }

    mutating func condition(_ search: MessageSearch) -> String {
        switch search {
        case .all:
            return "TRUE"
        case .flags(let flags, let set):
            let mask = bind(flags.rawValue)
            return set ? "(m.flags & \(mask)::smallint) = \(mask)::smallint" : "(m.flags & \(mask)::smallint) = 0"
        case .keyword(let keyword, let set):
            let value = bind(keyword)
            return set ? "\(value)::text = ANY(m.keywords)" : "NOT (\(value)::text = ANY(m.keywords))"
        case .header(let name, let substring):
            // lower() in SQL on both sides: one case mapping for text and needle.
            let field = bind(name + ": ")
            let needle = bind(substring)
            // One decoded "Name: value" line per field; the substring is looked for in the value.
            return """
                EXISTS (SELECT 1 FROM regexp_split_to_table(b.header_text, E'\\n') AS l(line)
                        WHERE left(lower(l.line), length(\(field)::text)) = lower(\(field)::text)
                          AND strpos(lower(substr(l.line, length(\(field)::text) + 1)), lower(\(needle)::text)) > 0)
                """
        case .body(let substring):
            return prefilter(substring) + "strpos(lower(b.body_text), lower(\(bind(substring))::text)) > 0"
        case .text(let substring):
            let needle = bind(substring)
            return prefilter(substring)
                + "(strpos(lower(b.header_text), lower(\(needle)::text)) > 0 OR strpos(lower(b.body_text), lower(\(needle)::text)) > 0)"
        case .receivedBefore(let date):
            return "m.internal_date < \(bind(Self.day(date).0))::timestamptz"
        case .receivedOn(let date):
            let (start, end) = Self.day(date)
            return "(m.internal_date >= \(bind(start))::timestamptz AND m.internal_date < \(bind(end))::timestamptz)"
        case .receivedSince(let date):
            return "m.internal_date >= \(bind(Self.day(date).0))::timestamptz"
        // A message without a usable Date: matches none of these, and so every NOT of them
        // (coalesce: a comparison with NULL would leave NOT unanswered too).
        case .sentBefore(let date):
            return "coalesce(b.sent_on < (\(bind(Self.day(date).0))::timestamptz AT TIME ZONE 'UTC')::date, false)"
        case .sentOn(let date):
            return "coalesce(b.sent_on = (\(bind(Self.day(date).0))::timestamptz AT TIME ZONE 'UTC')::date, false)"
        case .sentSince(let date):
            return "coalesce(b.sent_on >= (\(bind(Self.day(date).0))::timestamptz AT TIME ZONE 'UTC')::date, false)"
        case .larger(let size):
            return "m.size > \(bind(size))::bigint"
        case .smaller(let size):
            return "m.size < \(bind(size))::bigint"
        case .uids(let set):
            guard !set.ranges.isEmpty else { return "FALSE" }
            return "m.uid <@ (SELECT \(bind(set.multirange))::int8multirange)"
        case .modSeqAtLeast(let modseq):
            return "m.modseq >= \(bind(modseq))::bigint"
        case .not(let inner):
            return "NOT (\(condition(inner)))"
        case .or(let a, let b):
            return "((\(condition(a))) OR (\(condition(b))))"
        case .and(let all):
            guard !all.isEmpty else { return "TRUE" }
            return all.map { "(\(condition($0)))" }.joined(separator: " AND ")
        }
    }
}
