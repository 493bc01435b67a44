import MailStore

extension POP3Session {
    /// Commands of the TRANSACTION state (RFC 1939 §5).
    func transaction(_ command: POP3Command) async {
        guard let maildrop else { return }
        let live = maildrop.messages.indices.map { $0 + 1 }.filter { !deleted.contains($0) }
        func message(_ n: Int) -> MaildropMessage? {
            guard n >= 1, n <= maildrop.messages.count, !deleted.contains(n) else { return nil }
            return maildrop.messages[n - 1]
        }
        switch command {
        case .stat:
            send("+OK \(live.count) \(live.reduce(Int64(0)) { $0 + maildrop.messages[$1 - 1].size })")
        case .list(nil):
            send(multiline: "+OK \(live.count) messages", live.map { "\($0) \(maildrop.messages[$0 - 1].size)" })
        case .list(let n?):
            guard let m = message(n) else { return error("No such message") }
            send("+OK \(n) \(m.size)")
        case .uidl(nil):
            send(multiline: "+OK", live.map { "\($0) \(uniqueID(maildrop.messages[$0 - 1]))" })
        case .uidl(let n?):
            guard let m = message(n) else { return error("No such message") }
            send("+OK \(n) \(uniqueID(m))")
        case .retr(let n):
            guard let m = message(n) else { return error("No such message") }
            await sendMessage(m, bodyLines: nil, first: "+OK \(m.size) octets")
        case .top(let n, let lines):
            guard let m = message(n) else { return error("No such message") }
            await sendMessage(m, bodyLines: lines, first: "+OK")
        case .dele(let n):
            guard message(n) != nil else { return error("No such message") }
            deleted.insert(n)
            send("+OK Marked for deletion")
        case .rset:
            deleted.removeAll()
            send("+OK \(maildrop.messages.count) messages")
        case .noop:
            send("+OK")
        case .user, .pass, .auth, .stls:
            error("Already logged in")
        case .capa, .quit:
            break
        }
    }

    /// UIDL (RFC 1939 §7): stable across sessions, nodes and IMAP activity — the mailbox's
    /// UIDVALIDITY and the message's UID.
    func uniqueID(_ message: MaildropMessage) -> String {
        "\(maildrop?.uidValidity ?? 0).\(message.uid)"
    }

    /// RETR / TOP: the message streamed from the store, dot-stuffed (RFC 1939 §3), ended with
    /// `.`; TOP stops after the header, the blank line and `bodyLines` lines of the body.
    func sendMessage(_ message: MaildropMessage, bodyLines: Int?, first: String) async {
        guard let account, let maildrop else { return }
        var stuffer = DotStuffer(bodyLines: bodyLines)
        var started = false
        do {
            for try await chunk in backend.content(account.id, maildrop.mailboxID, uid: message.uid) {
                if !started {
                    send(first)
                    started = true
                }
                let (out, done) = stuffer.feed(chunk)
                connection.send(bytes: .init(bytes: out))
                await connection.flush()
                if done { break }
            }
        } catch {
            logger.error("message read failed", metadata: ["uid": "\(message.uid)", "error": "\(error)"])
            // Before the first line the client can still be told; after it, only closing is honest.
            if !started {
                return self.error("Message could not be read, try again later", code: "SYS/TEMP")
            }
            await connection.close()
            return
        }
        if !started { send(first) }
        connection.send(bytes: .init(bytes: stuffer.finish()))
    }
}

/// Dot-stuffing of a message for a multi-line reply, across chunk boundaries, with TOP's cut.
struct DotStuffer {
    private var atLineStart = true
    private var inBody = false
    private var lineIsEmpty = true
    private var bodyLinesLeft: Int?
    private var done = false

    init(bodyLines: Int?) {
        bodyLinesLeft = bodyLines
    }

    /// The bytes to send for `chunk`, and whether TOP has all it wants.
    mutating func feed(_ chunk: [UInt8]) -> ([UInt8], Bool) {
        var out: [UInt8] = []
        out.reserveCapacity(chunk.count + 16)
        for b in chunk {
            if done { break }
            if atLineStart {
                if inBody, let left = bodyLinesLeft {
                    if left == 0 {
                        done = true
                        break
                    }
                }
                if b == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
                atLineStart = false
                lineIsEmpty = true
            }
            out.append(b)
            if b == UInt8(ascii: "\n") {
                atLineStart = true
                if inBody {
                    if let left = bodyLinesLeft { bodyLinesLeft = left - 1 }
                } else if lineIsEmpty {
                    inBody = true       // the blank line that ends the header
                }
            } else if b != UInt8(ascii: "\r") {
                lineIsEmpty = false
            }
        }
        return (out, done)
    }

    /// The end of the reply: a line end when the message lacked one, then `.`.
    func finish() -> [UInt8] {
        (atLineStart ? [] : [0x0D, 0x0A]) + Array(".\r\n".utf8)
    }
}
