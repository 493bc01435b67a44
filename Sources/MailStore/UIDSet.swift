/// A set of UIDs as ranges (IMAP's `1:5,7,9:*` with `*` already resolved by the caller).
public struct UIDSet: Sendable, Equatable {
    public var ranges: [ClosedRange<UInt32>]

    /// The ranges sorted and merged where they touch or overlap.
    public init(_ ranges: [ClosedRange<UInt32>]) {
        var merged: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound || (last.upperBound < .max && range.lowerBound == last.upperBound + 1) {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        self.ranges = merged
    }

    public init(_ uids: [UInt32]) { self.init(uids.map { $0...$0 }) }
    public static let all = UIDSet([1...UInt32.max])

    /// As a PostgreSQL `int8multirange` literal, e.g. `{[1,5],[7,7]}`. Queries cast it once in a
    /// sub-select (an InitPlan): cast per row, a set of many ranges would be parsed per row.
    var multirange: String {
        "{" + ranges.map { "[\($0.lowerBound),\($0.upperBound)]" }.joined(separator: ",") + "}"
    }
    /// Bounds for the primary-key range scan that narrows the multirange test.
    var lowest: Int64 { Int64(ranges.map(\.lowerBound).min() ?? 1) }
    var highest: Int64 { Int64(ranges.map(\.upperBound).max() ?? 0) }
}
