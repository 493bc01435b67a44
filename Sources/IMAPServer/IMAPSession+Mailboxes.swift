import Foundation
import MailCore
import MailStore

extension IMAPSession {
    // MARK: Names

    /// A name from the wire: modified UTF-7, or UTF-8 after ENABLE UTF8=ACCEPT.
    func decodeName(_ argument: MailboxArgument) throws -> MailboxName {
        guard let text = decodedText(argument.bytes) else { throw StoreError(.invalid, "Invalid mailbox name encoding") }
        var name = text
        // RFC 3501 §6.3.3: a trailing delimiter only says children are intended.
        while name.count > 1, name.hasSuffix(String(MailboxName.separator)) { name.removeLast() }
        do {
            return try MailboxName(name)
        } catch {
            throw StoreError(.invalid, "Invalid mailbox name: \(error)")
        }
    }

    func decodedText(_ bytes: [UInt8]) -> String? {
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        if utf8Accepted { return text }
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        return ModifiedUTF7.decode(text)
    }

    func encodeName(_ name: String) -> [UInt8] {
        Array((utf8Accepted ? name : ModifiedUTF7.encode(name)).utf8)
    }

    // MARK: LIST, LSUB

    func list(_ tag: String, _ login: IMAPLogin, _ reference: MailboxArgument, _ patterns: [[UInt8]], _ options: ListOptions) async throws {
        let separator = MailboxName.separator
        if patterns.count == 1, patterns[0].isEmpty {
            // RFC 3501 §6.3.8: the hierarchy delimiter and the root of the reference.
            send(.data(.list(attributes: ["\\Noselect"], delimiter: separator, name: [])))
            ok(tag, "LIST completed")
            return
        }
        guard let prefix = decodedText(reference.bytes) else { throw StoreError(.invalid, "Invalid reference encoding") }
        // Matching costs pattern × name × mailboxes: patterns stay within a mailbox name's size.
        guard patterns.count <= 16, patterns.allSatisfy({ reference.bytes.count + $0.count <= MailboxName.maximumBytes }) else {
            bad(tag, "Too many or too long LIST patterns")
            return
        }
        var matchers: [MailboxPattern] = []
        for pattern in patterns {
            guard let text = decodedText(pattern) else { throw StoreError(.invalid, "Invalid pattern encoding") }
            matchers.append(MailboxPattern(prefix + text))
        }
        let subscribedOnly = options.selection.contains("SUBSCRIBED")
        let specialOnly = options.selection.contains("SPECIAL-USE")
        let showSubscribed = subscribedOnly || options.returnOptions.contains("SUBSCRIBED")
        for mailbox in try await backend.mailboxes(login.accountID) {
            guard matchers.contains(where: { $0.matches(mailbox.name) }) else { continue }
            if subscribedOnly && !mailbox.subscribed { continue }
            if specialOnly && mailbox.specialUse == nil { continue }
            var attributes: [String] = []
            if !mailbox.selectable { attributes.append("\\Noselect") }
            attributes.append(mailbox.hasChildren ? "\\HasChildren" : "\\HasNoChildren")
            if showSubscribed && mailbox.subscribed { attributes.append("\\Subscribed") }
            if let use = mailbox.specialUse { attributes.append(use.rawValue) }
            send(.data(.list(attributes: attributes, delimiter: separator, name: encodeName(mailbox.name))))
            if let items = options.returnStatus, mailbox.selectable {
                let status = try await backend.status(login.accountID, mailbox.id)
                send(.data(.status(name: encodeName(mailbox.name), try await statusItems(items, status, login, mailbox.id))))
            }
        }
        ok(tag, "LIST completed")
    }

    func lsub(_ tag: String, _ login: IMAPLogin, _ reference: MailboxArgument, _ pattern: [UInt8]) async throws {
        guard let prefix = decodedText(reference.bytes), let text = decodedText(pattern) else {
            throw StoreError(.invalid, "Invalid pattern encoding")
        }
        guard reference.bytes.count + pattern.count <= MailboxName.maximumBytes else {
            bad(tag, "LSUB pattern too long")
            return
        }
        let matcher = MailboxPattern(prefix + text)
        let existing = Dictionary(try await backend.mailboxes(login.accountID).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for name in try await backend.subscriptions(login.accountID) where matcher.matches(name) {
            let selectable = existing[name]?.selectable ?? false
            send(.data(.lsub(attributes: selectable ? [] : ["\\Noselect"], delimiter: MailboxName.separator, name: encodeName(name))))
        }
        ok(tag, "LSUB completed")
    }

    // MARK: CREATE, DELETE, RENAME, SUBSCRIBE

    func create(_ tag: String, _ login: IMAPLogin, _ argument: MailboxArgument, _ uses: [String]) async throws {
        let name = try decodeName(argument)
        var use: SpecialUse?
        if let first = uses.first {
            guard uses.count == 1, let known = SpecialUse.allCases.first(where: { $0.rawValue.lowercased() == first.lowercased() }) else {
                send(.tagged(tag, .no, .cannot, "Unsupported special-use attribute"))
                return
            }
            use = known
        }
        if name.isInbox { throw StoreError(.alreadyExists, "INBOX always exists") }
        try await backend.create(login.accountID, name, specialUse: use)
        ok(tag, "CREATE completed")
    }

    func delete(_ tag: String, _ login: IMAPLogin, _ argument: MailboxArgument) async throws {
        let name = try decodeName(argument)
        if name.isInbox { throw StoreError(.invalid, "INBOX cannot be deleted") }
        try await backend.delete(login.accountID, name)
        if let selected, selected.name == name.value { self.selected = nil }
        ok(tag, "DELETE completed")
    }

    func rename(_ tag: String, _ login: IMAPLogin, _ from: MailboxArgument, _ to: MailboxArgument) async throws {
        try await backend.rename(login.accountID, from: try decodeName(from), to: try decodeName(to))
        ok(tag, "RENAME completed")
    }

    func subscribe(_ tag: String, _ login: IMAPLogin, _ argument: MailboxArgument, _ on: Bool) async throws {
        try await backend.subscribe(login.accountID, try decodeName(argument), on)
        ok(tag, on ? "SUBSCRIBE completed" : "UNSUBSCRIBE completed")
    }

    // MARK: STATUS

    func status(_ tag: String, _ login: IMAPLogin, _ argument: MailboxArgument, _ items: [StatusAttribute]) async throws {
        let name = try decodeName(argument)
        let mailbox = try await backend.mailbox(login.accountID, named: name)
        guard mailbox.selectable else { throw StoreError(.invalid, "\(name) is not selectable") }
        let status = try await backend.status(login.accountID, mailbox.id)
        send(.data(.status(name: argument.bytes, try await statusItems(items, status, login, mailbox.id))))
        ok(tag, "STATUS completed")
    }

    func statusItems(_ items: [StatusAttribute], _ status: MailboxStatus, _ login: IMAPLogin, _ mailbox: Int64) async throws -> [StatusItem] {
        var out: [StatusItem] = []
        for item in items {
            let value: UInt64
            switch item {
            case .messages: value = UInt64(status.messages)
            case .recent: value = UInt64(status.recent)
            case .uidNext: value = UInt64(status.uidNext)
            case .uidValidity: value = UInt64(status.uidValidity)
            case .unseen: value = UInt64(status.unseen)
            case .size: value = UInt64(status.size)
            case .highestModSeq: value = UInt64(status.highestModSeq)
            case .appendLimit: value = UInt64(configuration.framing.maximumAppendLiteral)
            case .deleted:
                value = UInt64(try await backend.flagStates(login.accountID, mailbox, .all).filter { $0.flags.contains(.deleted) }.count)
            }
            out.append(StatusItem(item, value))
        }
        return out
    }

    // MARK: QUOTA (RFC 9208): one root, "", for the whole account.

    func quotaRoot(_ tag: String, _ login: IMAPLogin, _ argument: MailboxArgument) async throws {
        let name = try decodeName(argument)
        _ = try await backend.mailbox(login.accountID, named: name)
        let resources = try await quotaResources(login)
        send(.data(.quotaRoot(mailbox: argument.bytes, roots: resources.isEmpty ? [] : [[]])))
        if !resources.isEmpty { send(.data(.quota(root: [], resources))) }
        ok(tag, "GETQUOTAROOT completed")
    }

    func quota(_ tag: String, _ login: IMAPLogin, _ root: [UInt8]) async throws {
        let resources = try await quotaResources(login)
        guard root.isEmpty, !resources.isEmpty else { throw StoreError(.notFound, "No such quota root") }
        send(.data(.quota(root: [], resources)))
        ok(tag, "GETQUOTA completed")
    }

    func quotaResources(_ login: IMAPLogin) async throws -> [QuotaResource] {
        let quota = try await backend.quota(login.accountID)
        var out: [QuotaResource] = []
        if let limit = quota.limitBytes {
            out.append(QuotaResource("STORAGE", usage: UInt64((quota.usedBytes + 1023) / 1024), limit: UInt64(limit / 1024)))
        }
        if let limit = quota.limitMessages {
            out.append(QuotaResource("MESSAGE", usage: UInt64(quota.usedMessages), limit: UInt64(limit)))
        }
        return out
    }

    // MARK: APPEND

    func append(_ tag: String, _ login: IMAPLogin, _ argument: MailboxArgument, _ flags: [Flag], _ date: IMAPDateTime?,
                _ message: [UInt8]) async throws {
        let name = try decodeName(argument)
        let mailbox: MailboxRecord
        do {
            mailbox = try await backend.mailbox(login.accountID, named: name)
        } catch let error as StoreError where error.kind == .notFound {
            send(.tagged(tag, .no, .tryCreate, "Mailbox does not exist"))
            return
        }
        let (systemFlags, keywords) = Self.storedFlags(flags)
        let when = date.map { Date(timeIntervalSince1970: TimeInterval($0.secondsSince1970)) } ?? Date()
        let stored = try await backend.append(login.accountID, mailbox.id, PreparedMessage(raw: message), flags: systemFlags,
                                              keywords: keywords, date: when)
        if selected?.id == mailbox.id { await pollUpdates(expungeAllowed: true) }
        ok(tag, "APPEND completed", .appendUID(validity: stored.uidValidity, uid: stored.uid))
    }

    /// Flags as stored: system flags as bits, keywords as text; `\Recent` and unknown
    /// `\Extension`s are not stored.
    static func storedFlags(_ flags: [Flag]) -> (MessageFlags, [String]) {
        var system: MessageFlags = []
        var keywords: [String] = []
        for flag in flags {
            switch flag {
            case .seen: system.insert(.seen)
            case .answered: system.insert(.answered)
            case .flagged: system.insert(.flagged)
            case .deleted: system.insert(.deleted)
            case .draft: system.insert(.draft)
            case .keyword(let k): if !keywords.contains(k) { keywords.append(k) }
            case .recent, .extension: break
            }
        }
        return (system, keywords)
    }
}

/// A LIST pattern (RFC 3501 §6.3.8): `*` matches anything, `%` anything but the hierarchy
/// delimiter. INBOX matches case-insensitively. Matching is a linear-space dynamic program, so a
/// hostile pattern (`*%*%*%…`) costs pattern × name steps, never more.
struct MailboxPattern {
    let pattern: [Character]

    init(_ text: String) {
        var text = text
        if text.uppercased().hasPrefix("INBOX"), text.count == 5 || text.dropFirst(5).first == MailboxName.separator {
            text = "INBOX" + text.dropFirst(5)
        }
        pattern = Array(text)
    }

    func matches(_ name: String) -> Bool {
        let n = Array(name)
        // reachable[j]: the pattern so far can match the first j characters of the name.
        var reachable = [Bool](repeating: false, count: n.count + 1)
        reachable[0] = true
        for p in pattern {
            var next = [Bool](repeating: false, count: n.count + 1)
            switch p {
            case "*":
                var on = false
                for j in 0...n.count {
                    on = on || reachable[j]
                    next[j] = on
                }
            case "%":
                var on = false
                for j in 0...n.count {
                    if reachable[j] { on = true }
                    next[j] = on
                    if j < n.count && n[j] == MailboxName.separator { on = false }
                }
            default:
                for j in 0..<n.count where reachable[j] && n[j] == p { next[j + 1] = true }
            }
            reachable = next
        }
        return reachable[n.count]
    }
}
