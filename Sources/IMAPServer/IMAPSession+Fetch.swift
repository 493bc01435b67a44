import Foundation
import MIME
import MailStore

extension IMAPSession {
    /// FETCH (RFC 3501 §6.4.5): structures come from the parse stored at delivery, bytes from
    /// the stored body by range; nothing is parsed again. BODY[…] (not PEEK), RFC822 and
    /// RFC822.TEXT set \Seen in a read-write mailbox, and the new flags are reported.
    func fetch(_ tag: String, _ login: IMAPLogin, _ set: SequenceSet, _ items: [FetchAttribute], uid: Bool) async throws {
        guard let state = selected else { return }
        guard let uids = state.uids(for: set, uid: uid) else {
            bad(tag, "Invalid message sequence number")
            return
        }
        guard !uids.isEmpty else {
            await pollUpdates(expungeAllowed: uid)
            ok(tag, "FETCH completed")
            return
        }
        let needsSummary = items.contains { item in
            switch item {
            case .uid, .flags, .modSeq: return false
            default: return true
            }
        }
        let marksSeen = !state.readOnly && items.contains(where: \.setsSeen)
        let wanted = UIDSet(uids)
        if marksSeen {
            // Set \Seen first, so that the FLAGS this FETCH returns are the new ones.
            noteOwnChanges(try await backend.storeFlags(login.accountID, state.id, wanted, .add, .seen, keywords: [],
                                                        unchangedSince: nil).changed)
        }
        var flagStates: [UInt32: MessageFlagState] = [:]
        for flagState in try await backend.flagStates(login.accountID, state.id, wanted) { flagStates[flagState.uid] = flagState }
        var summaries: [UInt32: MessageSummary] = [:]
        if needsSummary {
            // In slices, so that a FETCH 1:* of a large mailbox never holds every summary at once.
            for slice in stride(from: 0, to: uids.count, by: 256) {
                let part = Array(uids[slice..<min(slice + 256, uids.count)])
                summaries = [:]
                for summary in try await backend.summaries(login.accountID, state.id, UIDSet(part)) {
                    summaries[summary.uid] = summary
                }
                try await respond(part, items, login, state, flagStates, summaries, uid: uid, marksSeen: marksSeen)
                await connection.flush()
            }
        } else {
            try await respond(uids, items, login, state, flagStates, [:], uid: uid, marksSeen: marksSeen)
        }
        await pollUpdates(expungeAllowed: uid)
        ok(tag, "FETCH completed")
    }

    private func respond(_ uids: [UInt32], _ items: [FetchAttribute], _ login: IMAPLogin, _ state: SelectedMailbox,
                         _ flagStates: [UInt32: MessageFlagState], _ summaries: [UInt32: MessageSummary], uid: Bool,
                         marksSeen: Bool) async throws {
        for messageUID in uids {
            // Expunged by another session since the map was made: nothing to say about it.
            guard let n = state.sequenceNumber(of: messageUID), let flags = flagStates[messageUID] else { continue }
            let summary = summaries[messageUID]
            var out: [FetchItem] = []
            var sentFlags = false
            for item in items {
                switch item {
                case .uid: out.append(.uid(messageUID))
                case .flags:
                    out.append(.flags(flagList(flags, state)))
                    sentFlags = true
                case .modSeq: out.append(.modSeq(UInt64(flags.modseq)))
                case .internalDate:
                    guard let summary else { continue }
                    out.append(.internalDate(seconds: Int64(summary.internalDate.timeIntervalSince1970.rounded(.down)), zoneMinutes: 0))
                case .rfc822Size:
                    guard let summary else { continue }
                    out.append(.rfc822Size(Int(summary.size)))
                case .envelope:
                    guard let summary else { continue }
                    out.append(.envelope(summary.envelope))
                case .body:
                    guard let summary else { continue }
                    out.append(.body(summary.body))
                case .bodyStructure:
                    guard let summary else { continue }
                    out.append(.bodyStructure(summary.bodyStructure))
                case .rfc822:
                    guard let summary else { continue }
                    out.append(.section(.rfc822, try await sectionBytes(SectionSpec(), nil, summary, login, state)))
                case .rfc822Header:
                    guard let summary else { continue }
                    out.append(.section(.rfc822Header, try await sectionBytes(SectionSpec(text: .header), nil, summary, login, state)))
                case .rfc822Text:
                    guard let summary else { continue }
                    out.append(.section(.rfc822Text, try await sectionBytes(SectionSpec(text: .text), nil, summary, login, state)))
                case .section(let spec, let partial, _):
                    guard let summary else { continue }
                    out.append(.section(.body(spec, origin: partial?.origin),
                                        try await sectionBytes(spec, partial, summary, login, state)))
                }
            }
            // RFC 3501 §6.4.5: \Seen may have been set by this FETCH; the flags are sent too.
            if marksSeen && !sentFlags { out.append(.flags(flagList(flags, state))) }
            send(.data(.fetch(n, out)))
            // Message bodies go out as they are read: never many of them held at once.
            if connection.pendingBytes >= 256 * 1024 { await connection.flush() }
        }
    }

    /// The bytes of a section of one message: its copy's trace lines come first, so the stored
    /// part offsets shift by their length.
    func sectionBytes(_ spec: SectionSpec, _ partial: Partial?, _ summary: MessageSummary, _ login: IMAPLogin,
                      _ state: SelectedMailbox) async throws -> [UInt8] {
        let shift = summary.headerPrefix.count
        let section = Section(path: spec.part, text: {
            switch spec.text {
            case .complete: return nil
            case .header: return .header
            case .text: return .text
            case .mime: return .mime
            case .headerFields(let names): return .headerFields(names)
            case .headerFieldsNot(let names): return .headerFieldsNot(names)
            }
        }())
        var bytes: [UInt8]
        switch summary.structure.locate(section) {
        case .empty:
            bytes = []
        case .bytes(let range):
            // The whole message, or its top-level header, includes this copy's trace lines.
            let start = spec.part.isEmpty && range.lowerBound == 0 ? 0 : range.lowerBound + shift
            var wanted = start..<(range.upperBound + shift)
            if let partial {
                let from = min(wanted.upperBound, wanted.lowerBound + partial.origin)
                wanted = from..<min(wanted.upperBound, from + partial.length)
            }
            return try await backend.content(login.accountID, state.id, uid: summary.uid, range: wanted)
        case .filteredHeader(let range, let names, let exclude):
            let start = spec.part.isEmpty && range.lowerBound == 0 ? 0 : range.lowerBound + shift
            let header = try await backend.content(login.accountID, state.id, uid: summary.uid, range: start..<(range.upperBound + shift))
            bytes = HeaderFieldFilter.filter(header, names: names, exclude: exclude)
        }
        if let partial {
            let from = min(bytes.count, partial.origin)
            bytes = Array(bytes[from..<min(bytes.count, from + partial.length)])
        }
        return bytes
    }
}
