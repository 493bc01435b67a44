/// A set of UIDs as ranges (IMAP's `1:5,7,9:*` with `*` already resolved by the caller).
public struct UIDSet: Sendable, Equatable {
    public var ranges: [ClosedRange<UInt32>]

    public init(_ ranges: [ClosedRange<UInt32>]) { self.ranges = ranges }
    public init(_ uids: [UInt32]) { self.ranges = uids.map { $0...$0 } }
    public static let all = UIDSet([1...UInt32.max])

    /// As a PostgreSQL `int8multirange` literal, e.g. `{[1,5],[7,7]}`.
    var multirange: String {
        "{" + ranges.map { "[\($0.lowerBound),\($0.upperBound)]" }.joined(separator: ",") + "}"
    }
    /// Bounds for the primary-key range scan that narrows the multirange test.
    var lowest: Int64 { Int64(ranges.map(\.lowerBound).min() ?? 1) }
    var highest: Int64 { Int64(ranges.map(\.upperBound).max() ?? 0) }
}
