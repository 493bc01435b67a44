import Foundation
import MailStore

extension IMAPSession {
    /// SEARCH (RFC 3501 §6.4.4): message numbers and \Recent are turned into UID sets here,
    /// everything else is one SQL statement in the store.
    func search(_ tag: String, _ login: IMAPLogin, _ charset: String?, _ key: SearchKey, uid: Bool) async throws {
        guard let state = selected else { return }
        if let charset, charset != "UTF-8", charset != "US-ASCII" {
            send(.tagged(tag, .no, .badCharset(["UTF-8", "US-ASCII"]), "Unsupported charset"))
            return
        }
        let found = state.uids.isEmpty ? [] : try await backend.search(login.accountID, state.id, criteria(key, state))
        // Messages another session added since the map was made are not ours to number yet.
        let numbers = uid ? found.filter { state.sequenceNumber(of: $0) != nil } : found.compactMap { state.sequenceNumber(of: $0) }
        send(.data(.search(numbers, highestModSeq: nil)))
        await pollUpdates(expungeAllowed: uid)
        ok(tag, "SEARCH completed")
    }

    func criteria(_ key: SearchKey, _ state: SelectedMailbox) -> MessageSearch {
        func date(_ d: SearchDate) -> Date {
            Date(timeIntervalSince1970: TimeInterval(IMAPDateTime(year: d.year, month: d.month, day: d.day, hour: 0, minute: 0,
                                                                  second: 0, zoneMinutes: 0).secondsSince1970))
        }
        var recent: MessageSearch {
            guard let range = state.recent else { return .uids(UIDSet([ClosedRange<UInt32>]())) }
            return .uids(UIDSet([range]))
        }
        switch key {
        case .all: return .all
        case .answered: return .flags(.answered, true)
        case .deleted: return .flags(.deleted, true)
        case .draft: return .flags(.draft, true)
        case .flagged: return .flags(.flagged, true)
        case .seen: return .flags(.seen, true)
        case .unanswered: return .flags(.answered, false)
        case .undeleted: return .flags(.deleted, false)
        case .undraft: return .flags(.draft, false)
        case .unflagged: return .flags(.flagged, false)
        case .unseen: return .flags(.seen, false)
        case .recent: return recent
        case .new: return .and([recent, .flags(.seen, false)])
        case .old: return .not(recent)
        case .keyword(let k): return .keyword(k, true)
        case .unkeyword(let k): return .keyword(k, false)
        case .bcc(let s): return .header(name: "Bcc", substring: s)
        case .cc(let s): return .header(name: "Cc", substring: s)
        case .from(let s): return .header(name: "From", substring: s)
        case .to(let s): return .header(name: "To", substring: s)
        case .subject(let s): return .header(name: "Subject", substring: s)
        case .header(let name, let s): return .header(name: name, substring: s)
        case .body(let s): return .body(s)
        case .text(let s): return .text(s)
        case .before(let d): return .receivedBefore(date(d))
        case .on(let d): return .receivedOn(date(d))
        case .since(let d): return .receivedSince(date(d))
        case .sentBefore(let d): return .sentBefore(date(d))
        case .sentOn(let d): return .sentOn(date(d))
        case .sentSince(let d): return .sentSince(date(d))
        case .larger(let n): return .larger(Int64(n))
        case .smaller(let n): return .smaller(Int64(n))
        case .modSeq(let n): return .modSeqAtLeast(Int64(clamping: n))
        case .uid(let set):
            return .uids(UIDSet(set.resolved(largest: state.uids.last ?? 0)))
        case .sequence(let set):
            // Numbers past the end match nothing (they name no message).
            let count = state.count
            let uids = set.resolved(largest: count).flatMap { range -> [UInt32] in
                guard range.lowerBound <= count, count > 0 else { return [] }
                return (range.lowerBound...min(range.upperBound, count)).map { state.uids[Int($0) - 1] }
            }
            return .uids(UIDSet(uids))
        case .not(let inner): return .not(criteria(inner, state))
        case .or(let a, let b): return .or(criteria(a, state), criteria(b, state))
        case .and(let all): return .and(all.map { criteria($0, state) })
        }
    }
}
