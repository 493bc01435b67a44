import Foundation
import MailCore
import MailStore

extension IMAPSession {
    // MARK: SELECT, EXAMINE, CLOSE, UNSELECT

    func select(_ tag: String, _ login: IMAPLogin, _ argument: MailboxArgument, readOnly: Bool) async throws {
        // RFC 3501 §6.3.1: a SELECT first deselects, even when it then fails.
        selected = nil
        let name = try decodeName(argument)
        let mailbox = try await backend.mailbox(login.accountID, named: name)
        guard mailbox.selectable else { throw StoreError(.invalid, "\(name) is not selectable") }
        let recent = readOnly ? nil : try await backend.claimRecent(login.accountID, mailbox.id)
        let status = try await backend.status(login.accountID, mailbox.id)
        let uids = try await backend.uids(login.accountID, mailbox.id)
        let state = SelectedMailbox(id: mailbox.id, name: mailbox.name, readOnly: readOnly, uidValidity: status.uidValidity,
                                    uids: uids, highestModSeq: status.highestModSeq, recent: recent)
        let systemFlags: [Flag] = [.answered, .flagged, .deleted, .seen, .draft]
        send(.data(.flags(systemFlags)))
        send(.data(.exists(state.count)))
        send(.data(.recent(UInt32(recent.map { r in uids.filter { r.contains($0) }.count } ?? 0))))
        if let firstUnseen = try await firstUnseen(login, state) {
            send(.untagged(.ok, .unseen(firstUnseen), "First unseen"))
        }
        send(.untagged(.ok, .uidValidity(status.uidValidity), "UIDs valid"))
        send(.untagged(.ok, .uidNext(status.uidNext), "Predicted next UID"))
        send(.untagged(.ok, .highestModSeq(UInt64(status.highestModSeq)), "Highest"))
        send(.untagged(.ok, .permanentFlags(readOnly ? [] : systemFlags, allowsNew: !readOnly), "Flags permitted"))
        selected = state
        ok(tag, readOnly ? "EXAMINE completed" : "SELECT completed", readOnly ? .readOnly : .readWrite)
    }

    func firstUnseen(_ login: IMAPLogin, _ state: SelectedMailbox) async throws -> UInt32? {
        guard !state.uids.isEmpty, let first = try await backend.firstUnseen(login.accountID, state.id) else { return nil }
        return state.sequenceNumber(of: first)
    }

    func inSelected(_ tag: String, _ command: IMAPCommand, _ login: IMAPLogin, _ state: SelectedMailbox) async throws {
        switch command {
        case .close:
            // RFC 3501 §6.4.2: expunge silently, unless read-only.
            if !state.readOnly { _ = try await backend.expunge(login.accountID, state.id, nil) }
            selected = nil
            ok(tag, "CLOSE completed")
        case .unselect:
            selected = nil
            ok(tag, "UNSELECT completed")
        case .expunge:
            try await expunge(tag, login, nil)
        case .uidExpunge(let set):
            try await expunge(tag, login, state.uids(for: set, uid: true) ?? [])
        case .fetch(let set, let items, let uid, _):
            try await fetch(tag, login, set, items, uid: uid)
        case .store(let set, let mode, let silent, let flags, let uid, let unchangedSince):
            try await store(tag, login, set, mode, silent, flags, uid: uid, unchangedSince: unchangedSince)
        case .copy(let set, let target, let uid):
            try await copy(tag, login, set, target, uid: uid, move: false)
        case .move(let set, let target, let uid):
            try await copy(tag, login, set, target, uid: uid, move: true)
        case .search(let charset, let key, let uid):
            try await search(tag, login, charset, key, uid: uid)
        default:
            bad(tag, "Command not valid in this state")
        }
    }

    // MARK: Updates (RFC 3501 §7.4.1, §5.5)

    /// Tells the client what other sessions changed: EXPUNGE (only when allowed: never during
    /// FETCH, STORE or SEARCH by sequence number), new messages (EXISTS), flag changes (FETCH).
    func pollUpdates(expungeAllowed: Bool) async {
        guard let login, var state = selected else { return }
        do {
            let changes = try await backend.changes(login.accountID, state.id, since: state.highestModSeq)
            if !changes.expunged.isEmpty && !expungeAllowed { return }
            for uid in changes.expunged {
                if let n = state.remove(uid: uid) { send(.data(.expunge(n))) }
            }
            var grew = false
            for change in changes.changed {
                if state.ownChanges[change.uid] == change.modseq { continue }
                if let n = state.sequenceNumber(of: change.uid) {
                    send(.data(.fetch(n, [.uid(change.uid), .flags(flagList(change, state))])))
                } else if change.uid > (state.uids.last ?? 0) {
                    state.uids.append(change.uid)
                    grew = true
                }
            }
            if grew { send(.data(.exists(state.count))) }
            state.highestModSeq = changes.highestModSeq
            state.ownChanges = [:]
            selected = state
        } catch {
            logger.warning("could not read mailbox changes", metadata: ["error": "\(error)"])
        }
    }

    /// Remembers flag changes this session made, so that updates do not echo them.
    func noteOwnChanges(_ changed: [MessageFlagState]) {
        for change in changed { selected?.ownChanges[change.uid] = change.modseq }
    }

    func flagList(_ state: MessageFlagState, _ mailbox: SelectedMailbox) -> [Flag] {
        var flags = state.flags.names.map(Flag.init)
        if mailbox.recent?.contains(state.uid) == true { flags.append(.recent) }
        flags += state.keywords.map(Flag.keyword)
        return flags
    }

    // MARK: EXPUNGE, STORE, COPY, MOVE

    func expunge(_ tag: String, _ login: IMAPLogin, _ uids: [UInt32]?) async throws {
        guard var state = selected else { return }
        guard !state.readOnly else {
            send(.tagged(tag, .no, .readOnly, "Mailbox is read-only"))
            return
        }
        if let uids, uids.isEmpty {
            ok(tag, "EXPUNGE completed")
            return
        }
        let removed = try await backend.expunge(login.accountID, state.id, uids.map { UIDSet($0) })
        for uid in removed.sorted() {
            if let n = state.remove(uid: uid) { send(.data(.expunge(n))) }
        }
        selected = state
        await pollUpdates(expungeAllowed: true)
        ok(tag, "EXPUNGE completed")
    }

    func store(_ tag: String, _ login: IMAPLogin, _ set: SequenceSet, _ mode: StoreMode, _ silent: Bool, _ flags: [Flag],
               uid: Bool, unchangedSince: UInt64?) async throws {
        guard let state = selected else { return }
        guard !state.readOnly else {
            send(.tagged(tag, .no, .readOnly, "Mailbox is read-only"))
            return
        }
        guard let uids = state.uids(for: set, uid: uid) else {
            bad(tag, "Invalid message sequence number")
            return
        }
        guard unchangedSince == nil else {
            // RFC 7162 is not offered: a silently ignored condition would mislead the client.
            bad(tag, "UNCHANGEDSINCE needs CONDSTORE, which this server does not offer")
            return
        }
        let (system, keywords) = Self.storedFlags(flags)
        let operation: FlagOperation = switch mode { case .replace: .replace; case .add: .add; case .remove: .remove }
        if !uids.isEmpty {
            let result = try await backend.storeFlags(login.accountID, state.id, UIDSet(uids), operation, system,
                                                      keywords: keywords, unchangedSince: nil)
            noteOwnChanges(result.changed)
            if !silent {
                for change in result.changed {
                    guard let n = state.sequenceNumber(of: change.uid) else { continue }
                    send(.data(.fetch(n, (uid ? [.uid(change.uid)] : []) + [.flags(flagList(change, state))])))
                }
            }
        }
        await pollUpdates(expungeAllowed: uid)
        ok(tag, "STORE completed")
    }

    func copy(_ tag: String, _ login: IMAPLogin, _ set: SequenceSet, _ target: MailboxArgument, uid: Bool, move: Bool) async throws {
        guard var state = selected else { return }
        guard let uids = state.uids(for: set, uid: uid) else {
            bad(tag, "Invalid message sequence number")
            return
        }
        if move && state.readOnly {
            send(.tagged(tag, .no, .readOnly, "Mailbox is read-only"))
            return
        }
        let name = try decodeName(target)
        let destination: MailboxRecord
        do {
            destination = try await backend.mailbox(login.accountID, named: name)
        } catch let error as StoreError where error.kind == .notFound {
            send(.tagged(tag, .no, .tryCreate, "Mailbox does not exist"))
            return
        }
        guard !uids.isEmpty else {
            ok(tag, move ? "MOVE completed" : "COPY completed")
            return
        }
        let result = try await backend.copy(login.accountID, from: state.id, UIDSet(uids), to: destination.id, move: move)
        let code: ResponseCode? = result.mapping.isEmpty ? nil : .copyUID(
            validity: result.uidValidity, source: UIDSet(result.mapping.map(\.source)).ranges,
            destination: UIDSet(result.mapping.map(\.destination)).ranges)
        if move {
            // RFC 6851 §4.3: COPYUID in an untagged OK, then the EXPUNGEs, then the tagged OK.
            if let code { send(.untagged(.ok, code, "Moved")) }
            for source in result.mapping.map(\.source).sorted() {
                if let n = state.remove(uid: source) { send(.data(.expunge(n))) }
            }
            selected = state
            ok(tag, "MOVE completed")
        } else {
            ok(tag, "COPY completed", code)
        }
    }
}
