/// A day, as SEARCH dates are (RFC 3501 `date`: no time, no zone).
public struct SearchDate: Hashable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }
}

/// RFC 3501 §6.4.4 search keys.
public indirect enum SearchKey: Hashable, Sendable {
    case all
    case answered, deleted, draft, flagged, new, old, recent, seen
    case unanswered, undeleted, undraft, unflagged, unseen
    case keyword(String), unkeyword(String)
    case bcc(String), body(String), cc(String), from(String), subject(String), text(String), to(String)
    case header(String, String)
    case before(SearchDate), on(SearchDate), since(SearchDate)
    case sentBefore(SearchDate), sentOn(SearchDate), sentSince(SearchDate)
    case larger(UInt32), smaller(UInt32)
    case uid(SequenceSet)
    case sequence(SequenceSet)
    case not(SearchKey)
    case or(SearchKey, SearchKey)
    /// A parenthesised list, or the top-level keys: all must match.
    case and([SearchKey])
    /// CONDSTORE `MODSEQ n`.
    case modSeq(UInt64)
}
