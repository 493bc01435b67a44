import MailStore

/// What a session keeps of its selected mailbox: the sequence-number ↔ UID map (RFC 3501
/// §2.3.1.2) and the modseq it has reported up to — never the messages themselves.
struct SelectedMailbox {
    let id: Int64
    let name: String
    let readOnly: Bool
    let uidValidity: UInt32
    /// uids[n - 1] is the UID of message sequence number n; ascending.
    var uids: [UInt32]
    /// Changes up to here have been reported to the client.
    var highestModSeq: Int64
    /// \Recent for this session (RFC 3501 §2.3.2).
    var recent: ClosedRange<UInt32>?
    /// Flag changes this session made itself (UID → the modseq they got): already answered,
    /// or asked to be silent, so the next update does not report them again.
    var ownChanges: [UInt32: Int64] = [:]

    var count: UInt32 { UInt32(uids.count) }

    /// The sequence number of a UID, if it is in the map.
    func sequenceNumber(of uid: UInt32) -> UInt32? {
        var low = 0, high = uids.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if uids[mid] == uid { return UInt32(mid + 1) }
            if uids[mid] < uid { low = mid + 1 } else { high = mid - 1 }
        }
        return nil
    }

    /// The UIDs a sequence set names. For message numbers, `*` is the last message and numbers
    /// past the end are an error (nil); for UIDs, `*` is the largest UID and UIDs not present are
    /// simply left out (RFC 3501 §6.4.8).
    func uids(for set: SequenceSet, uid: Bool) -> [UInt32]? {
        if uid {
            guard let largest = uids.last else { return [] }
            var out: [UInt32] = []
            for range in set.resolved(largest: largest) {
                // Binary search the first UID ≥ lower bound, then walk.
                var low = 0, high = uids.count
                while low < high {
                    let mid = (low + high) / 2
                    if uids[mid] < range.lowerBound { low = mid + 1 } else { high = mid }
                }
                var k = low
                while k < uids.count && uids[k] <= range.upperBound {
                    out.append(uids[k])
                    k += 1
                }
            }
            return out
        }
        guard !uids.isEmpty else { return nil }
        var out: [UInt32] = []
        for range in set.resolved(largest: count) {
            guard range.upperBound <= count else { return nil }
            out.append(contentsOf: range.map { uids[Int($0) - 1] })
        }
        return out
    }

    /// Removes a UID; returns the sequence number it had.
    mutating func remove(uid: UInt32) -> UInt32? {
        guard let n = sequenceNumber(of: uid) else { return nil }
        uids.remove(at: Int(n) - 1)
        return n
    }
}
