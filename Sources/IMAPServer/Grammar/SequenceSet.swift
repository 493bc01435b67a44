/// One end of a range in a sequence set: a number, or `*` (the largest number in use).
public enum SequenceNumber: Hashable, Sendable {
    case number(UInt32)
    case last

    /// This end against a mailbox whose largest sequence number or UID is `largest`.
    public func resolved(largest: UInt32) -> UInt32 {
        switch self {
        case .number(let n): return n
        case .last: return largest
        }
    }
}

/// RFC 3501 `sequence-set`: message sequence numbers or UIDs, ranges in either order
/// (`4:2` means `2:4`), `*` for the last one.
public struct SequenceSet: Hashable, Sendable {
    public struct Range: Hashable, Sendable {
        public var first: SequenceNumber
        public var last: SequenceNumber

        public init(_ first: SequenceNumber, _ last: SequenceNumber) {
            self.first = first
            self.last = last
        }

        /// The closed range against a mailbox whose largest number is `largest` (§9: "the
        /// contents of the range are independent of the order of the range's endpoints").
        public func resolved(largest: UInt32) -> ClosedRange<UInt32> {
            let a = first.resolved(largest: largest), b = last.resolved(largest: largest)
            return min(a, b)...max(a, b)
        }
    }

    public var ranges: [Range]

    public init(_ ranges: [Range]) {
        self.ranges = ranges
    }

    /// The ranges against a mailbox whose largest number is `largest`, sorted and merged.
    public func resolved(largest: UInt32) -> [ClosedRange<UInt32>] {
        let sorted = ranges.map { $0.resolved(largest: largest) }.sorted { $0.lowerBound < $1.lowerBound }
        var merged: [ClosedRange<UInt32>] = []
        for range in sorted {
            if let last = merged.last, last.upperBound == .max || range.lowerBound <= last.upperBound + 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        return merged
    }
}
