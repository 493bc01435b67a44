import Foundation
import MailAuth
import MailStore
import POP3Server
import Testing

/// POP3 over real sockets: states, every command, response codes, dot-stuffing, pipelining,
/// the maildrop lock, and hostile input.
@Suite(.timeLimit(.minutes(1))) struct POP3SessionTests {
    static let first = "Subject: one\r\nFrom: a@remote.test\r\n\r\nLine one\r\n.leading dot\r\n..two dots\r\nlast line\r\n"
    static let second = "Subject: two\r\n\r\nbody\r\n"

    @Test func aWholeSession() async throws {
        try await POP3TestNode.run { node in
            try await node.deliver(Self.first)
            try await node.deliver(Self.second)
            let c = try await node.client()
            let (_, capa) = try await c.multiline("CAPA")
            #expect(capa.contains("USER") && capa.contains("UIDL") && capa.contains("TOP") && capa.contains("STLS")
                    && capa.contains("RESP-CODES") && capa.contains("PIPELINING") && capa.contains("SASL SCRAM-SHA-256 PLAIN LOGIN"))
            #expect(try await c.command("STAT").hasPrefix("-ERR"))                 // AUTHORIZATION state
            #expect(try await c.command("PASS secret").hasPrefix("-ERR"))          // no USER yet
            #expect(try await c.command("USER demo@example.test") == "+OK")
            #expect(try await c.command("PASS wrong") == "-ERR [AUTH] Authentication failed")
            #expect(try await c.command("USER demo@example.test") == "+OK")
            #expect(try await c.command("PASS secret") == "+OK Logged in")
            let size1 = Self.first.utf8.count, size2 = Self.second.utf8.count
            #expect(try await c.command("STAT") == "+OK 2 \(size1 + size2)")
            #expect(try await c.multiline("LIST").1 == ["1 \(size1)", "2 \(size2)"])
            #expect(try await c.command("LIST 2") == "+OK 2 \(size2)")
            #expect(try await c.command("LIST 3").hasPrefix("-ERR"))
            let (_, uidl) = try await c.multiline("UIDL")
            #expect(uidl.count == 2 && Set(uidl.map { $0.split(separator: " ")[1] }).count == 2)
            // RETR: the exact bytes, dot-stuffed on the wire (the client un-stuffs).
            try await c.send("RETR 1\r\n")
            #expect(try await c.line() == "+OK \(size1) octets")
            #expect(try await c.line() == "Subject: one")
            _ = try await c.line()
            _ = try await c.line()
            #expect(try await c.line() == "Line one")
            #expect(try await c.line() == "..leading dot")          // stuffed
            #expect(try await c.line() == "...two dots")
            #expect(try await c.line() == "last line")
            #expect(try await c.line() == ".")
            #expect(try await c.multiline("TOP 1 1").1 == ["Subject: one", "From: a@remote.test", "", "Line one"])
            #expect(try await c.multiline("TOP 1 0").1 == ["Subject: one", "From: a@remote.test", ""])
            #expect(try await c.multiline("TOP 2 99999999999999999999").1 == ["Subject: two", "", "body"])
            #expect(try await c.command("DELE 1") == "+OK Marked for deletion")
            #expect(try await c.command("DELE 1").hasPrefix("-ERR"))
            #expect(try await c.command("RETR 1").hasPrefix("-ERR"))
            #expect(try await c.command("STAT") == "+OK 1 \(size2)")
            #expect(try await c.command("RSET").hasPrefix("+OK"))
            #expect(try await c.command("STAT") == "+OK 2 \(size1 + size2)")
            #expect(try await c.command("NOOP") == "+OK")
            #expect(try await c.command("DELE 2") == "+OK Marked for deletion")
            // A dropped connection deletes nothing.
            await c.close()
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await node.inboxCount() == 2)
            let d = try await node.loggedIn()
            #expect(try await d.command("DELE 2").hasPrefix("+OK"))
            #expect(try await d.command("QUIT").hasPrefix("+OK"))
            #expect(try await node.inboxCount() == 1)
            // UIDLs are stable across sessions.
            let e = try await node.loggedIn()
            #expect(try await e.multiline("UIDL").1 == [uidl[0]])
        }
    }

    @Test func maildropLockAndSASL() async throws {
        try await POP3TestNode.run { node in
            let a = try await node.loggedIn()
            let b = try await node.client()
            _ = try await b.command("USER demo@example.test")
            #expect(try await b.command("PASS secret") == "-ERR [IN-USE] Maildrop is locked by another session")
            #expect(try await a.command("QUIT").hasPrefix("+OK"))
            // No pause: the lock is released before QUIT is answered.
            let plain = Data("\u{0}demo@example.test\u{0}secret".utf8).base64EncodedString()
            #expect(try await b.command("AUTH PLAIN \(plain)") == "+OK Logged in")
            let c = try await node.client()
            #expect(try await c.command("AUTH LOGIN") == "+ " + Data("Username:".utf8).base64EncodedString())
            #expect(try await c.command(Data("other@example.test".utf8).base64EncodedString()).hasPrefix("+ "))
            #expect(try await c.command(Data("secret".utf8).base64EncodedString()) == "+OK Logged in")
            let d = try await node.client()
            #expect(try await d.command("AUTH PLAIN").hasPrefix("+ "))
            #expect(try await d.command("*").hasPrefix("-ERR"))
            #expect(try await d.multiline("AUTH").1 == ["SCRAM-SHA-256", "PLAIN", "LOGIN"])
        }
    }

    @Test func tlsAndPlaintextPolicy() async throws {
        try await POP3TestNode.run(configure: { $0.plaintextAuthOnLoopback = false }) { node in
            let c = try await node.client()
            let (_, capa) = try await c.multiline("CAPA")
            #expect(!capa.contains("USER") && capa.contains("STLS"))
            #expect(try await c.command("USER demo@example.test").hasPrefix("-ERR [AUTH]"))
            // Pipelined after STLS: dropped, not executed inside TLS.
            try await c.send("STLS\r\nUSER demo@example.test\r\n")
            #expect(try await c.line() == "+OK Begin TLS negotiation")
            try await c.startTLS()
            #expect(try await c.command("PASS secret").hasPrefix("-ERR"))       // the USER was dropped
            #expect(try await c.command("USER demo@example.test") == "+OK")
            #expect(try await c.command("PASS secret") == "+OK Logged in")
            let s = try await node.client("pop3s")
            #expect(try await s.command("USER other@example.test") == "+OK")
            #expect(try await s.command("PASS secret") == "+OK Logged in")
        }
    }

    @Test func pipeliningAndHostileInput() async throws {
        try await POP3TestNode.run { node in
            try await node.deliver(Self.second)
            let c = try await node.client()
            try await c.send("USER demo@example.test\r\nPASS secret\r\nSTAT\r\nLIST 1\r\nNOOP\r\n")
            #expect(try await c.line() == "+OK")
            #expect(try await c.line() == "+OK Logged in")
            #expect(try await c.line().hasPrefix("+OK 1 "))
            #expect(try await c.line().hasPrefix("+OK 1 "))
            #expect(try await c.line() == "+OK")
            #expect(try await c.command(String(repeating: "x", count: 5000)) == "-ERR Line too long")
            #expect(try await c.command("RETR 0").hasPrefix("-ERR"))
            #expect(try await c.command("RETR -1").hasPrefix("-ERR"))
            #expect(try await c.command("RETR 99999999999").hasPrefix("-ERR"))
            #expect(try await c.command("LIST 1 2").hasPrefix("-ERR"))
            #expect(try await c.command("FROB").hasPrefix("-ERR"))
            #expect(try await c.command("STAT\u{0}").hasPrefix("-ERR"))
            #expect(try await c.command("NOOP") == "+OK")
            for _ in 0..<25 { try await c.send("BOGUS\r\n") }
            var last = ""
            while let line = try? await c.line() { last = line }
            #expect(last == "-ERR Too many errors")
        }
    }

    /// RFC 3206: a store that cannot be reached is `[SYS/TEMP]`, never a wrong password.
    @Test func anUnreachableDatabaseIsATemporaryFailure() async throws {
        var options = Database.Options()
        options.maximumConnections = 1
        options.connectTimeout = .seconds(2)
        options.requestTimeout = .seconds(2)
        let dead = try Database(url: DatabaseURL(parsing: "postgres://petrel@127.0.0.1:9/none"), options: options, logger: .init(label: "dead"))
        let pool = Task { await dead.run() }
        defer { pool.cancel() }
        try await POP3TestNode.run(backend: { _ in
            StorePOP3Backend(database: dead, hasher: PasswordHasher(parameters: .init(memoryKiB: 64, iterations: 1, parallelism: 1)))
        }) { node in
            let c = try await node.client()
            #expect(try await c.command("USER demo@example.test") == "+OK")
            #expect(try await c.command("PASS secret") == "-ERR [SYS/TEMP] Temporary failure, try again later")
        }
    }

    /// RFC 3206 `[SYS/PERM]`: the maildrop cannot be opened, and retrying will not help. The
    /// real store is used throughout; only the opening of the maildrop is made to fail.
    @Test func aMaildropThatCannotBeOpenedIsPermanent() async throws {
        struct Unopenable: POP3Backend {
            let store: StorePOP3Backend
            var logins: any LoginService { store.logins }
            func lock(_ accountID: Int64) async throws -> MaildropLock? { try await store.lock(accountID) }
            func maildrop(_ accountID: Int64) async throws -> Maildrop { throw StoreError(.invalid, "INBOX is damaged") }
            func content(_ accountID: Int64, _ mailboxID: Int64, uid: UInt32) -> AsyncThrowingStream<[UInt8], any Error> {
                store.content(accountID, mailboxID, uid: uid)
            }
            func delete(_ accountID: Int64, _ mailboxID: Int64, uids: [UInt32]) async throws {
                try await store.delete(accountID, mailboxID, uids: uids)
            }
        }
        try await POP3TestNode.run(backend: { database in
            Unopenable(store: StorePOP3Backend(database: database, hasher: PasswordHasher(parameters: .init(memoryKiB: 64, iterations: 1, parallelism: 1))))
        }) { node in
            let c = try await node.client()
            #expect(try await c.command("USER demo@example.test") == "+OK")
            #expect(try await c.command("PASS secret") == "-ERR [SYS/PERM] The maildrop cannot be opened")
            // The lock taken for the failed login is released: the next session is not IN-USE.
            #expect(try await c.command("USER demo@example.test") == "+OK")
            #expect(try await c.command("PASS secret") == "-ERR [SYS/PERM] The maildrop cannot be opened")
        }
    }

    @Test func parser() throws {
        #expect(try POP3CommandParser.parse(Array("pass two words".utf8)) == .pass("two words"))
        #expect(try POP3CommandParser.parse(Array("top 3 0".utf8)) == .top(3, lines: 0))
        #expect(try POP3CommandParser.parse(Array("UIDL".utf8)) == .uidl(nil))
        #expect(try POP3CommandParser.parse(Array("AUTH plain =".utf8)) == .auth(mechanism: "PLAIN", initialResponse: "="))
        #expect(throws: POP3SyntaxError.self) { try POP3CommandParser.parse(Array("USER".utf8)) }
        #expect(throws: POP3SyntaxError.self) { try POP3CommandParser.parse(Array("DELE x".utf8)) }
        #expect(throws: POP3SyntaxError.self) { try POP3CommandParser.parse([0xFF, 0xFE]) }
    }
}
