import Foundation
import Testing

/// SEARCH over real sockets: every key kind, nesting, charsets, message numbers versus UIDs.
@Suite(.timeLimit(.minutes(1))) struct IMAPSearchTests {
    static func message(from: String, subject: String, date: String, body: String, extra: String = "") -> String {
        "From: \(from)\r\nTo: demo@example.test\r\nSubject: \(subject)\r\nDate: \(date)\r\n\(extra)\r\n\(body)"
    }

    @Test func everyKindOfKey() async throws {
        try await IMAPTestNode.run { node in
            try await node.deliver(Self.message(from: "Ann <ann@remote.test>", subject: "Hello there", date: "Mon, 2 Feb 2026 10:00:00 +0000",
                                                body: "The quarterly numbers are in.\r\n"))
            try await node.deliver(Self.message(from: "Bob <bob@other.test>", subject: "=?UTF-8?B?R3LDvMOfZQ==?=", date: "Tue, 3 Feb 2026 23:30:00 -0500",
                                                body: "Nothing to see.\r\n", extra: "X-Spam: yes\r\n"), flags: [.seen, .flagged])
            try await node.deliver(Self.message(from: "Carol <carol@remote.test>", subject: "Numbers", date: "Wed, 4 Feb 2026 08:00:00 +0000",
                                                body: String(repeating: "long line of text\r\n", count: 200)), flags: [.seen])
            let c = try await node.client()
            _ = try await c.command("SELECT INBOX")
            func search(_ keys: String) async throws -> String {
                let result = try await c.command("SEARCH " + keys)
                #expect(result.status == "OK", "\(keys): \(result)")
                return result.untagged.first { $0.hasPrefix("* SEARCH") } ?? "(none)"
            }
            #expect(try await search("ALL") == "* SEARCH 1 2 3")
            #expect(try await search("FLAGGED") == "* SEARCH 2")
            #expect(try await search("UNSEEN") == "* SEARCH 1")
            #expect(try await search("SEEN NOT FLAGGED") == "* SEARCH 3")
            #expect(try await search("FROM ann") == "* SEARCH 1")
            #expect(try await search("FROM REMOTE.TEST") == "* SEARCH 1 3")
            #expect(try await search("SUBJECT ell") == "* SEARCH 1")                       // substring, any case
            #expect(try await search("CHARSET UTF-8 SUBJECT {6}\r\ngrüß") == "* SEARCH 2")   // decoded encoded-word
            #expect(try await search("HEADER X-Spam yes") == "* SEARCH 2")
            #expect(try await search("HEADER X-Spam \"\"") == "* SEARCH 2")
            #expect(try await search("BODY quarterly") == "* SEARCH 1")
            #expect(try await search("TEXT numbers") == "* SEARCH 1 3")                    // header or body
            #expect(try await search("SENTBEFORE 4-Feb-2026") == "* SEARCH 1 2")
            #expect(try await search("SENTON 3-Feb-2026") == "* SEARCH 2")
            #expect(try await search("SENTSINCE 4-Feb-2026") == "* SEARCH 3")
            #expect(try await search("LARGER 1000") == "* SEARCH 3")
            #expect(try await search("SMALLER 1000") == "* SEARCH 1 2")
            #expect(try await search("OR FLAGGED UNSEEN") == "* SEARCH 1 2")
            #expect(try await search("NOT (OR FLAGGED UNSEEN)") == "* SEARCH 3")
            #expect(try await search("2:*") == "* SEARCH 2 3")
            #expect(try await search("UID 3") == "* SEARCH 3")
            #expect(try await search("1,9") == "* SEARCH 1")
            #expect(try await search("RECENT") == "* SEARCH 1 2 3")
            #expect(try await search("NEW") == "* SEARCH 1")
            #expect(try await search("OLD") == "* SEARCH")
            let today = Date()
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "d-MMM-yyyy"
            #expect(try await search("ON \(formatter.string(from: today))") == "* SEARCH 1 2 3")
            #expect(try await search("BEFORE \(formatter.string(from: today))") == "* SEARCH")
            #expect(try await search("SINCE 1-Jan-2020") == "* SEARCH 1 2 3")
            _ = try await c.command("STORE 3 +FLAGS ($Work)")
            #expect(try await search("KEYWORD $Work") == "* SEARCH 3")
            #expect(try await search("UNKEYWORD $Work") == "* SEARCH 1 2")
            // Hostile strings are data, not SQL.
            #expect(try await search("SUBJECT \"'; DROP TABLE messages; --\"") == "* SEARCH")
            #expect(try await search("ALL") == "* SEARCH 1 2 3")
            #expect(try await c.command("SEARCH CHARSET KOI8-R ALL").tagged.contains("NO [BADCHARSET (UTF-8 US-ASCII)]"))
            // UID SEARCH answers UIDs; after an expunge, numbers and UIDs differ.
            _ = try await c.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
            _ = try await c.command("EXPUNGE")
            #expect(try await search("FROM carol") == "* SEARCH 2")
            #expect(try await c.command("UID SEARCH FROM carol").untagged.first == "* SEARCH 3")
        }
    }
}
