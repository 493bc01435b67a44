import Foundation
import MailCore
import Testing

/// The IMAP session over real sockets: states, authentication, mailboxes, SELECT, FETCH,
/// STORE, EXPUNGE, COPY, MOVE, APPEND, and two sessions on one mailbox.
@Suite(.timeLimit(.minutes(1))) struct IMAPSessionTests {
    static let message = "From: Ann <ann@remote.test>\r\nTo: demo@example.test\r\nSubject: Hello\r\n"
        + "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@remote.test>\r\n\r\nFirst line\r\nSecond line\r\n"

    @Test func greetingCapabilityAndLogin() async throws {
        try await IMAPTestNode.run { node in
            let c = try await node.client(login: nil)
            let caps = try await c.command("CAPABILITY")
            #expect(caps.status == "OK")
            let line = try #require(caps.untagged.first)
            for cap in ["IMAP4rev1", "STARTTLS", "AUTH=PLAIN", "LITERAL+", "UIDPLUS", "MOVE", "SPECIAL-USE", "QUOTA", "ID"] {
                #expect(line.contains(" \(cap)"), "\(cap) missing: \(line)")
            }
            #expect(try await c.command("SELECT INBOX").tagged.contains("BAD"))
            #expect(try await c.command("LOGIN demo@example.test wrong").tagged.contains("NO [AUTHENTICATIONFAILED]"))
            #expect(try await c.command("LOGIN nobody@example.test secret").tagged.contains("NO [AUTHENTICATIONFAILED]"))
            // APPEND before login: no message-sized literal is invited.
            try await c.send("p APPEND INBOX {100000}\r\n")
            #expect(try await c.responses(until: "p").tagged.contains("NO [TOOBIG]"))
            let ok = try await c.command("LOGIN demo@example.test {6}\r\nsecret")
            #expect(ok.tagged.contains("OK [CAPABILITY"))
            #expect(try await c.command("LOGIN demo@example.test secret").tagged.contains("BAD"))
            let bye = try await c.command("LOGOUT")
            #expect(bye.untagged.first?.hasPrefix("* BYE") == true && bye.status == "OK")
        }
    }

    /// Without TLS, off loopback (simulated by turning the loopback allowance off), plaintext
    /// passwords are refused with PRIVACYREQUIRED and LOGINDISABLED is advertised.
    @Test func plaintextNeedsTLS() async throws {
        try await IMAPTestNode.run(configure: { $0.plaintextAuthOnLoopback = false }) { node in
            let c = try await node.client(login: nil)
            let caps = try await c.command("CAPABILITY")
            #expect(caps.untagged.first?.contains("LOGINDISABLED") == true)
            #expect(caps.untagged.first?.contains("AUTH=PLAIN") == false)
            #expect(try await c.command("LOGIN demo@example.test secret").tagged.contains("NO [PRIVACYREQUIRED]"))
            #expect(try await c.command("AUTHENTICATE PLAIN AGRlbW9AZXhhbXBsZS50ZXN0AHNlY3JldA==").tagged.contains("NO [PRIVACYREQUIRED]"))
            let s = try await node.client("imaps", login: nil)
            #expect(try await s.command("LOGIN demo@example.test secret").status == "OK")
        }
    }

    /// Three failed logins end the connection: guesses cost a password hash each.
    @Test func failedLoginsAreLimited() async throws {
        try await IMAPTestNode.run { node in
            let c = try await node.client(login: nil)
            for i in 0..<3 { _ = try await c.command("LOGIN demo@example.test wrong\(i)") }
            #expect(await c.readUntilClosed().last?.hasPrefix("* BYE") == true)
            let d = try await node.client()
            #expect(try await d.command("STARTTLS").status == "BAD")     // not after login
        }
    }

    @Test func authenticatePlainWithAndWithoutInitialResponse() async throws {
        try await IMAPTestNode.run { node in
            let c = try await node.client(login: nil)
            let credentials = Data("\u{0}demo@example.test\u{0}secret".utf8).base64EncodedString()
            #expect(try await c.command("AUTHENTICATE PLAIN \(credentials)").status == "OK")
            let d = try await node.client(login: nil)
            try await d.send("a AUTHENTICATE PLAIN\r\n")
            #expect(try await d.readResponse() == "+ ")
            try await d.send(Data("\u{0}other@example.test\u{0}bad".utf8).base64EncodedString() + "\r\n")
            #expect(try await d.responses(until: "a").tagged.contains("NO [AUTHENTICATIONFAILED]"))
            try await d.send("b AUTHENTICATE LOGIN\r\n")
            _ = try await d.readResponse()
            try await d.send("*\r\n")
            #expect(try await d.responses(until: "b").status == "BAD")
        }
    }

    @Test func startTLSThenLoginAndImplicitTLS() async throws {
        try await IMAPTestNode.run { node in
            let c = try await node.client(login: nil)
            // Pipelined after STARTTLS: must not be executed after the upgrade.
            try await c.send("a STARTTLS\r\nb LOGIN demo@example.test secret\r\n")
            #expect(try await c.responses(until: "a").status == "OK")
            try await c.startTLS()
            let caps = try await c.command("CAPABILITY")
            #expect(!(caps.untagged.first ?? "").contains("STARTTLS"))
            #expect(try await c.command("NOOP").status == "OK")
            #expect(try await c.command("LOGIN demo@example.test secret").status == "OK")
            let s = try await node.client("imaps")
            #expect(try await s.command("SELECT INBOX").status == "OK")
        }
    }

    @Test func mailboxCommands() async throws {
        try await IMAPTestNode.run { node in
            let c = try await node.client()
            let list = try await c.command("LIST \"\" \"*\"")
            #expect(list.untagged.contains("* LIST (\\HasNoChildren) \"/\" \"INBOX\""))
            #expect(list.untagged.contains("* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent\""))
            #expect(try await c.command("LIST \"\" \"\"").untagged == ["* LIST (\\Noselect) \"/\" \"\""])
            #expect(try await c.command("CREATE Projects/Entw&APw-rfe/").status == "OK")
            #expect(try await c.command("CREATE Projects/Entw&APw-rfe").tagged.contains("NO [ALREADYEXISTS]"))
            #expect(try await c.command("CREATE INBOX").tagged.contains("NO"))
            let percent = try await c.command("LIST \"\" %")
            #expect(percent.untagged.contains("* LIST (\\HasChildren) \"/\" \"Projects\""))
            #expect(!percent.untagged.contains { $0.contains("Entw") })
            let nested = try await c.command("LIST Projects/ %")
            #expect(nested.untagged == ["* LIST (\\HasNoChildren) \"/\" \"Projects/Entw&APw-rfe\""])
            #expect(try await c.command("RENAME Projects/Entw&APw-rfe Projects/Done").status == "OK")
            #expect(try await c.command("SUBSCRIBE Projects/Done").status == "OK")
            #expect(try await c.command("LSUB \"\" \"Projects/*\"").untagged == ["* LSUB () \"/\" \"Projects/Done\""])
            #expect(try await c.command("LIST (SPECIAL-USE) \"\" \"*\"").untagged.count == 5)
            #expect(try await c.command("CREATE Starred (USE (\\Flagged))").status == "OK")
            #expect(try await c.command("LIST \"\" Starred").untagged == ["* LIST (\\HasNoChildren \\Flagged) \"/\" \"Starred\""])
            #expect(try await c.command("CREATE Odd (USE (\\Bogus))").tagged.contains("NO [CANNOT]"))
            #expect(try await c.command("DELETE Projects/Done").status == "OK")
            #expect(try await c.command("DELETE nothing-here").tagged.contains("NO [NONEXISTENT]"))
            #expect(try await c.command("DELETE INBOX").tagged.contains("NO"))
            _ = try await node.deliver(Self.message)
            let status = try await c.command("STATUS INBOX (MESSAGES UNSEEN UIDNEXT SIZE APPENDLIMIT)")
            #expect(status.untagged.first?.hasPrefix("* STATUS INBOX (MESSAGES 1 UNSEEN 1 UIDNEXT 2 SIZE ") == true)
            #expect(try await c.command("NAMESPACE").untagged == ["* NAMESPACE ((\"\" \"/\")) NIL NIL"])
            // Another account's mailboxes are not there.
            let other = try await node.client(login: "other@example.test")
            #expect(try await other.command("STATUS Projects (MESSAGES)").tagged.contains("NO [NONEXISTENT]"))
        }
    }

    @Test func selectFetchAndSeen() async throws {
        try await IMAPTestNode.run { node in
            let uid = try await node.deliver(Self.message)
            let c = try await node.client()
            let examine = try await c.command("EXAMINE INBOX")
            #expect(examine.tagged.contains("OK [READ-ONLY]"))
            #expect(examine.untagged.contains("* 1 EXISTS"))
            #expect(examine.untagged.contains { $0.hasPrefix("* OK [UIDVALIDITY ") })
            #expect(examine.untagged.contains("* OK [UNSEEN 1] First unseen"))
            // EXAMINE: BODY[] does not set \Seen.
            let peek = try await c.command("FETCH 1 (BODY[TEXT] FLAGS)")
            #expect(peek.untagged == ["* 1 FETCH (BODY[TEXT] {25}\r\nFirst line\r\nSecond line\r\n FLAGS ())"])
            let select = try await c.command("SELECT INBOX")
            #expect(select.tagged.contains("OK [READ-WRITE]"))
            #expect(select.untagged.contains("* 1 RECENT"))
            let fetch = try await c.command("UID FETCH \(uid) (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)] ENVELOPE)")
            let line = try #require(fetch.untagged.first)
            #expect(line.hasPrefix("* 1 FETCH (UID \(uid) FLAGS (\\Recent) RFC822.SIZE \(Self.message.utf8.count) "))
            #expect(line.contains("BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: Hello\r\n\r\n"))
            #expect(line.contains("ENVELOPE (\"Mon, 23 Nov 2026 10:00:00 +0000\" \"Hello\""))
            let partial = try await c.command("FETCH 1 (BODY[]<0.6>)")
            #expect(partial.untagged.first?.hasPrefix("* 1 FETCH (BODY[]<0> {6}\r\nFrom: ") == true)
            #expect(partial.untagged.first?.contains("\\Seen") == true)
            #expect(try await c.command("FETCH 1 FLAGS").untagged == ["* 1 FETCH (FLAGS (\\Seen \\Recent))"])
            #expect(try await c.command("FETCH 2 FLAGS").status == "BAD")
            #expect(try await c.command("UID FETCH 999 FLAGS").untagged.isEmpty)
            let structure = try await c.command("FETCH 1 BODYSTRUCTURE")
            #expect(structure.untagged.first?.contains("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 25 2") == true)
        }
    }

    @Test func storeExpungeCopyMoveAppend() async throws {
        try await IMAPTestNode.run { node in
            for i in 1...4 { try await node.deliver(Self.message.replacingOccurrences(of: "Hello", with: "Hello \(i)")) }
            let c = try await node.client()
            _ = try await c.command("SELECT INBOX")
            #expect(try await c.command("STORE 2:3 +FLAGS (\\Deleted $Work)").untagged ==
                    ["* 2 FETCH (FLAGS (\\Deleted \\Recent $Work))", "* 3 FETCH (FLAGS (\\Deleted \\Recent $Work))"])
            #expect(try await c.command("STORE 1 +FLAGS.SILENT (\\Flagged)").untagged.isEmpty)
            let copy = try await c.command("COPY 1 Archive")
            #expect(copy.tagged.contains("OK [COPYUID "))
            #expect(try await c.command("COPY 1 Nowhere").tagged.contains("NO [TRYCREATE]"))
            let expunge = try await c.command("EXPUNGE")
            #expect(expunge.untagged == ["* 3 EXPUNGE", "* 2 EXPUNGE"] || expunge.untagged == ["* 2 EXPUNGE", "* 2 EXPUNGE"])
            let move = try await c.command("UID MOVE 4 Trash")
            #expect(move.untagged.first?.hasPrefix("* OK [COPYUID ") == true)
            #expect(move.untagged.last == "* 2 EXPUNGE")
            let message = "Subject: appended\r\n\r\nbody\r\n"
            let append = try await c.command("APPEND INBOX (\\Seen) \"23-Nov-2026 10:00:00 +0100\" {\(message.utf8.count)+}\r\n\(message)")
            #expect(append.tagged.contains("OK [APPENDUID "))
            #expect(append.untagged.contains("* 2 EXISTS"))
            let date = try await c.command("FETCH 2 (INTERNALDATE FLAGS)")
            #expect(date.untagged == ["* 2 FETCH (INTERNALDATE \"23-Nov-2026 09:00:00 +0000\" FLAGS (\\Seen))"])
            #expect(try await c.command("APPEND Nowhere {1+}\r\nx").tagged.contains("NO [TRYCREATE]"))
            let status = try await c.command("STATUS Archive (MESSAGES)")
            #expect(status.untagged == ["* STATUS Archive (MESSAGES 1)"])
            #expect(try await c.command("CLOSE").status == "OK")
            #expect(try await c.command("FETCH 1 FLAGS").status == "BAD")
        }
    }

    /// RFC 9208: APPEND and COPY over the account's quota are `NO [OVERQUOTA]`; GETQUOTAROOT
    /// reports the usage.
    @Test func quotaIsEnforcedAndReported() async throws {
        try await IMAPTestNode.run { node in
            try await node.directory.setQuota(EmailAddress("demo@example.test"), bytes: 2048, messages: nil)
            try await node.deliver(Self.message)
            let c = try await node.client()
            let root = try await c.command("GETQUOTAROOT INBOX")
            #expect(root.untagged.contains("* QUOTAROOT INBOX \"\""))
            #expect(root.untagged.contains { $0.hasPrefix("* QUOTA \"\" (STORAGE 1 2)") })
            let big = String(repeating: "x", count: 3000)
            #expect(try await c.command("APPEND INBOX {\(big.utf8.count)+}\r\n\(big)").tagged.contains("NO [OVERQUOTA]"))
            let medium = "Subject: m\r\n\r\n" + String(repeating: "y", count: 1500) + "\r\n"
            #expect(try await c.command("APPEND Archive {\(medium.utf8.count)+}\r\n\(medium)").status == "OK")
            _ = try await c.command("SELECT Archive")
            #expect(try await c.command("COPY 1 INBOX").tagged.contains("NO [OVERQUOTA]"))
        }
    }

    /// RFC 3501 §7.4.1: another session's changes reach a selected session at NOOP.
    @Test func twoSessionsSeeEachOther() async throws {
        try await IMAPTestNode.run { node in
            try await node.deliver(Self.message)
            try await node.deliver(Self.message + "2")
            let a = try await node.client()
            let b = try await node.client()
            _ = try await a.command("SELECT INBOX")
            _ = try await b.command("SELECT INBOX")
            _ = try await b.command("STORE 1 +FLAGS (\\Flagged)")
            try await node.deliver(Self.message + "3")
            let noop = try await a.command("NOOP")
            #expect(noop.untagged.contains { $0.hasPrefix("* 1 FETCH (UID 1 FLAGS (\\Flagged") })
            #expect(noop.untagged.contains("* 3 EXISTS"))
            _ = try await b.command("STORE 2 +FLAGS.SILENT (\\Deleted)")
            _ = try await b.command("EXPUNGE")
            let later = try await a.command("NOOP")
            #expect(later.untagged.contains("* 2 EXPUNGE"))
            #expect(try await a.command("FETCH 2 UID").untagged == ["* 2 FETCH (UID 3)"])
        }
    }

    /// RFC 2177: IDLE is woken by a delivery from elsewhere (here: the store, as SMTP would),
    /// and by another session's flag change and expunge; DONE ends it.
    @Test func idleIsWokenByDeliveriesAndOtherSessions() async throws {
        try await IMAPTestNode.run { node in
            try await node.deliver(Self.message)
            let a = try await node.client()
            let b = try await node.client()
            _ = try await a.command("SELECT INBOX")
            _ = try await b.command("SELECT INBOX")
            try await a.send("i1 IDLE\r\n")
            #expect(try await a.readResponse() == "+ idling")
            let start = ContinuousClock.now
            try await node.deliver(Self.message + "new")
            #expect(try await a.readResponse() == "* 2 EXISTS")
            #expect(ContinuousClock.now - start < .seconds(1))
            _ = try await b.command("STORE 1 +FLAGS (\\Flagged)")
            #expect(try await a.readResponse().hasPrefix("* 1 FETCH (UID 1 FLAGS (\\Flagged"))
            _ = try await b.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
            #expect(try await a.readResponse().hasPrefix("* 1 FETCH (UID 1 FLAGS (\\Flagged \\Deleted"))
            _ = try await b.command("EXPUNGE")
            #expect(try await a.readResponse() == "* 1 EXPUNGE")
            try await a.send("DONE\r\n")
            #expect(try await a.responses(until: "i1").tagged == "i1 OK IDLE terminated")
            #expect(try await a.command("FETCH 1 UID").untagged == ["* 1 FETCH (UID 2)"])
            // Anything but DONE ends IDLE with BAD.
            try await a.send("i2 IDLE\r\n")
            #expect(try await a.readResponse() == "+ idling")
            try await a.send("NOOP\r\n")
            #expect(try await a.responses(until: "i2").status == "BAD")
        }
    }

    @Test func hostileInput() async throws {
        try await IMAPTestNode.run(configure: { $0.framing.maximumLiteral = 1024; $0.framing.maximumText = 4096 }) { node in
            let c = try await node.client()
            // A literal announced at 1 GB: refused before any byte is sent, and the session goes on.
            try await c.send("a LOGIN {1073741824}\r\n")
            #expect(try await c.responses(until: "a").tagged.contains("NO [TOOBIG]"))
            // LITERAL+ over the limit: the bytes are read and dropped, then the refusal.
            try await c.send("b SEARCH TEXT {2000+}\r\n" + String(repeating: "x", count: 2000) + "\r\n")
            #expect(try await c.responses(until: "b").tagged.contains("NO [TOOBIG]"))
            #expect(try await c.command("NOOP").status == "OK")
            #expect(try await c.command("FETCH 1:* FLAGS").status == "BAD")      // nothing selected
            #expect(try await c.command("SEARCH " + String(repeating: "(", count: 100) + "ALL").status == "BAD")
            #expect(try await c.command("FETCH 0 FLAGS").status == "BAD")
            try await c.send(String(repeating: "z", count: 10_000) + "\r\n")
            #expect(try await c.readResponse().hasPrefix("* BAD"))
            #expect(try await c.command("NOOP").status == "OK")
            // Too many errors: BYE and close.
            for _ in 0..<25 { try await c.send("x BOGUS\r\n") }
            let rest = await c.readUntilClosed()
            #expect(rest.last?.hasPrefix("* BYE") == true)
        }
    }
}
