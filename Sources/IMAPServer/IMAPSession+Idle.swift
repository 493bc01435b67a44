import MailStore

extension IMAPSession {
    /// IDLE (RFC 2177): `+ idling`, then untagged updates as other sessions — on this node or
    /// another — change the selected mailbox, woken by the store's NOTIFY events, until the
    /// client sends DONE. A node that does not listen for events says NO.
    func idle(_ tag: String, _ login: IMAPLogin) async -> Next {
        guard let events = await backend.events(login.accountID) else {
            send(.tagged(tag, .no, .cannot, "IDLE is not available on this node"))
            return .goOn
        }
        send(.continuation("idling"))
        let waker = connection.waker()
        let mailbox = selected?.id
        let watcher = Task {
            for await event in events where event.mailboxID == mailbox || event.mailboxID == 0 {
                waker.wake()
            }
        }
        defer { watcher.cancel() }
        // Whatever changed before the subscription was in place.
        if selected != nil { await pollUpdates(expungeAllowed: true) }
        await connection.flush()
        while true {
            switch await connection.readLine(limit: 1024) {
            case .end:
                return .close
            case .drain:
                await closing(.untagged(.bye, .unavailable, "Server shutting down"))
                return .close
            case .wake:
                if selected != nil { await pollUpdates(expungeAllowed: true) }
                await connection.flush()
            case .tooLong:
                bad(tag, "Expected DONE")
                return .goOn
            case .line(let bytes, _):
                guard String(decoding: bytes, as: UTF8.self).uppercased() == "DONE" else {
                    bad(tag, "Expected DONE")
                    return .goOn
                }
                ok(tag, "IDLE terminated")
                return .goOn
            }
        }
    }
}
