import Foundation
import MailCore
import MIME
import MailStore
import PetrelTestSupport
import Testing

/// `MessageStore.search` text keys: exact case-insensitive substrings, whether the word index
/// prefilters them or not, and rows stored without words.
@Suite struct MessageSearchTests {
    @Test func substringsWithAndWithoutTheWordIndex() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let target = [DeliveryTarget(accountID: ann.id, mailboxID: ann.inbox)]
            for body in ["The quarterly numbers are in.\n", "Write to alice@example.com today.\n", "Nothing here.\n",
                         "Pi is 3.14159, roughly.\n"] {
                _ = try await f.messages.deliver(MailFixture.message(body, body: body), to: target)
            }
            func search(_ criteria: MessageSearch) async throws -> [UInt32] {
                try await f.messages.search(accountID: ann.id, mailboxID: ann.inbox, criteria)
            }
            #expect(try await search(.body("quarterly")) == [1])
            #expect(try await search(.body("UARTERL")) == [1])                 // inside a word: no prefilter
            #expect(try await search(.body("rterly numbers ar")) == [1])        // prefilter: numbers*, ar*
            #expect(try await search(.body(" NUMBERS")) == [1])
            #expect(try await search(.body("numbers are out")) == [])           // prefilter passes nothing
            #expect(try await search(.body("e@example.c")) == [2])              // across an address
            #expect(try await search(.body("3.141")) == [4])
            #expect(try await search(.body(".14159,")) == [4])
            #expect(try await search(.text("subject: nothing")) == [3])          // header text
            #expect(try await search(.text("write to")) == [2])
            // Rows stored without words (before the index, or too many words) are still found.
            #expect(try await f.int("UPDATE message_bodies SET search_words = NULL RETURNING 1") == 1)
            #expect(try await search(.body("rterly numbers ar")) == [1])
            #expect(try await search(.body("e@example.c")) == [2])
            #expect(try await search(.body("numbers are out")) == [])
            // No Date: header: matches no SENT* key, and every NOT of one.
            _ = try await f.messages.deliver(PreparedMessage(raw: Array("Subject: undated\r\n\r\nx\r\n".utf8)), to: target)
            let day = Date(timeIntervalSince1970: 1_795_478_400)
            #expect(try await search(.sentOn(day)) == [])
            #expect(try await search(.not(.sentOn(day))) == [1, 2, 3, 4, 5])
            #expect(try await search(.not(.sentBefore(day))).contains(5))
        }
    }

    /// The node makes the index words of ASCII texts (migration 0006): they must be exactly the
    /// words the database makes from the same text, which it still does for other texts.
    @Test func nodeWordsEqualTheDatabaseWords() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let target = [DeliveryTarget(accountID: ann.id, mailboxID: ann.inbox)]
            let many = (0..<3001).map { "w\($0)" }.joined(separator: " ")
            let bodies = ["Mail ALICE@example.com 3.14 times: v2.0-beta! x_y", String(repeating: "Ab9", count: 30) + " tail.end",
                          "Grüße aus Zürich", many, "   ", String(many.dropLast(6))]
            #expect(SearchWords.indexWords("Mail ALICE@example.com, mail") == ["alice", "com", "example", "mail"])
            #expect(SearchWords.indexWords("ok", "Zürich") == nil)
            #expect(SearchWords.indexWords(many) == [])
            for body in bodies {
                _ = try await f.messages.deliver(PreparedMessage(raw: Array("Subject: s \(body.count)\r\n\r\n\(body)\r\n".utf8)), to: target)
            }
            #expect(try await f.int("SELECT count(*) FROM message_bodies WHERE search_words IS NOT NULL") == 4)
            #expect(try await f.int("""
                SELECT count(*) FROM message_bodies WHERE search_words IS DISTINCT FROM
                    (SELECT CASE WHEN count(*) BETWEEN 1 AND 3000 THEN array_to_tsvector(array_agg(x.w)) END
                     FROM (SELECT DISTINCT left(t.w, 64) AS w
                           FROM regexp_split_to_table(lower(header_text || ' ' || body_text), '[^[:alnum:]]+') AS t(w)
                           WHERE t.w <> '') AS x)
                """) == 0)
        }
    }

    /// The word index may only ever rule out messages that lack the substring: every substring
    /// of these texts (up to 16 characters) finds exactly the messages whose text contains it.
    @Test func everySubstringIsFound() async throws {
        try await TestDatabase.withMigrated { database in
            let f = MailFixture(database)
            let ann = try await f.account("ann@d.test")
            let target = [DeliveryTarget(accountID: ann.id, mailboxID: ann.inbox)]
            let bodies = ["Mail alice@example.com 3.14 times: v2.0-beta!", "Grüße aus Zürich, naïve café-owner x_y@z.test",
                          "-İSTANBUL <p>HTML&nbsp;body</p> tab\there;semi", String(repeating: "w", count: 70) + " tail.end"]
            for body in bodies {
                _ = try await f.messages.deliver(PreparedMessage(raw: Array("Subject: s\r\n\r\n\(body)\r\n".utf8)), to: target)
            }
            var needles = Set<String>(["-istanbul", " İstanbul", "ZÜRICH", " " + String(repeating: "W", count: 66)])
            for body in bodies {
                let characters = Array(body)
                for start in stride(from: 0, to: characters.count, by: 3) {
                    for length in [1, 2, 4, 7, 11, 16] where start + length <= characters.count {
                        needles.insert(String(characters[start..<(start + length)]))
                    }
                }
            }
            for needle in needles.sorted() {
                let found = try await f.messages.search(accountID: ann.id, mailboxID: ann.inbox, .body(needle))
                let expected = bodies.indices.filter { bodies[$0].lowercased().contains(needle.lowercased()) }.map { UInt32($0 + 1) }
                // PostgreSQL's lower() may map a few letters differently from Swift's: only ever more, never fewer.
                #expect(Set(expected).isSubset(of: Set(found)), "BODY \(needle.debugDescription): \(found) lacks some of \(expected)")
            }
        }
    }
}
