import Foundation
import Testing
import MailCore
@testable import SMTPServer

/// The command parser and the DATA decoder, table-driven, with hostile input.
struct SMTPParserTests {
    @Test(arguments: [
        ("MAIL FROM:<a@b.test>", "a@b.test"),
        ("mail from: <A@B.test>", "A@B.test"),
        ("MAIL FROM:<\"john smith\"@b.test>", "\"john smith\"@b.test"),
        ("MAIL FROM:<\"john\"@b.test>", "john@b.test"),
        ("MAIL FROM:<\"a\\\"b\"@b.test>", "\"a\\\"b\"@b.test"),
        ("MAIL FROM:<user@[192.0.2.1]>", "user@[192.0.2.1]"),
        ("MAIL FROM:<user@[IPv6:2001:db8::1]>", "user@[IPv6:2001:db8::1]"),
        ("MAIL FROM:<jörg@bücher.test> SMTPUTF8", "jörg@bücher.test"),
        ("MAIL FROM:<@a.test,@b.test:u@c.test>", "u@c.test"),
    ])
    func mailPaths(line: String, address: String) throws {
        guard case .mail(.mailbox(let mailbox), _) = try SMTPCommandParser.parse(Array(line.utf8)) else {
            Issue.record("not a MAIL with a mailbox: \(line)")
            return
        }
        #expect(mailbox.description == address)
    }

    @Test(arguments: [
        "MAIL FROM:a@b.test", "MAIL FROM:<a@b.test", "MAIL FROM:<a@@b.test>", "MAIL FROM:<a..b@c.test>",
        "MAIL FROM:<.a@c.test>", "MAIL FROM:<a@-b.test>", "MAIL FROM:<a@b_c.test>", "MAIL FROM:<a>",
        "MAIL FROM:<a@b.test>x", "MAIL FROM:<\"unterminated@b.test>", "MAIL FROM:<@a.test:>",
        "MAIL FROM:<a@b.test> SIZE=abc", "MAIL FROM:<a@b.test> SIZE=99999999999999999999",
        "RCPT TO:<>", "RCPT TO:", "BDAT", "BDAT x", "BDAT 1 FIRST", "BDAT 99999999999", "HELO", "HELO a b",
        "MAIL FROM:<" + String(repeating: "a", count: 65) + "@b.test>",
        "MAIL FROM:<a@" + String(repeating: "b", count: 64) + ".test>",
    ])
    func malformedCommandsAreSyntaxErrors(line: String) {
        #expect(throws: SMTPSyntaxError.self) { try SMTPCommandParser.parse(Array(line.utf8)) }
    }

    @Test func commandsAndParameters() throws {
        #expect(try SMTPCommandParser.parse(Array("rset".utf8)) == .rset)
        #expect(try SMTPCommandParser.parse(Array("RCPT TO:<Postmaster>".utf8)) == .rcpt(.postmaster))
        #expect(try SMTPCommandParser.parse(Array("MAIL FROM:<>".utf8)) == .mail(.null, MailParameters()))
        #expect(try SMTPCommandParser.parse(Array("BDAT 100 last".utf8)) == .bdat(size: 100, last: true))
        #expect(try SMTPCommandParser.parse(Array("AUTH plain dGVzdA==".utf8)) == .auth(mechanism: "PLAIN", initialResponse: "dGVzdA=="))
        guard case .mail(_, let p) = try SMTPCommandParser.parse(Array("MAIL FROM:<a@b.test> size=42 body=8bitmime smtputf8 AUTH=<>".utf8)) else {
            Issue.record("not MAIL")
            return
        }
        #expect(p.size == 42 && p.body8bit && p.smtputf8)
        #expect(throws: SMTPSyntaxError.unsupportedParameter("NOTIFY=NEVER")) {
            try SMTPCommandParser.parse(Array("RCPT TO:<a@b.test> NOTIFY=NEVER".utf8))
        }
        #expect(throws: SMTPSyntaxError.nulByte) { try SMTPCommandParser.parse([0x4E, 0, 0x4F]) }
        #expect(throws: SMTPSyntaxError.unknownCommand) { try SMTPCommandParser.parse([]) }
    }

    @Test func senderRoutingIsRecognised() throws {
        for (line, routed) in [("RCPT TO:<a%b@c.test>", true), ("RCPT TO:<b!a@c.test>", true),
                               ("RCPT TO:<\"a@b\"@c.test>", true), ("RCPT TO:<a.b@c.test>", false)] {
            guard case .rcpt(.mailbox(let m)) = try SMTPCommandParser.parse(Array(line.utf8)) else { throw SMTPSyntaxError.unknownCommand }
            #expect(m.hasSenderRouting == routed, "\(line)")
        }
    }

    /// Feeds `input` in pieces of `step` bytes; returns the body and what follows the end.
    static func decode(_ input: String, step: Int, limit: Int = 1 << 20) -> (body: String, rest: String, finished: Bool, overflow: Bool) {
        var decoder = DataDecoder(limit: limit)
        var bytes = Array(input.utf8)[...]
        while !bytes.isEmpty {
            let (consumed, finished) = decoder.feed(bytes.prefix(step))
            bytes = bytes.dropFirst(consumed)
            if finished {
                return (String(decoding: decoder.body, as: UTF8.self), String(decoding: bytes, as: UTF8.self), true, decoder.overflowed)
            }
        }
        return (String(decoding: decoder.body, as: UTF8.self), "", false, decoder.overflowed)
    }

    @Test(arguments: [1, 2, 3, 7, 1000])
    func dataDecoderUnstuffsAndFindsTheEnd(step: Int) {
        let cases: [(String, String, String, Bool)] = [
            (".\r\n", "", "", true),
            ("a\r\n.\r\nQUIT\r\n", "a\r\n", "QUIT\r\n", true),
            ("..x\r\n...\r\n.\r\n", ".x\r\n..\r\n", "", true),
            ("a\n.\nb\r\n.\r\n", "a\n\nb\r\n", "", true),
            ("a\n.\r\nb\r\n.\r\n", "a\n\r\nb\r\n", "", true),
            ("a\r\n.x\r\n.\r", "a\r\nx\r\n", "", false),
            ("a\r.\r\n.\r\n", "a\r.\r\n", "", true),
            ("\r\n.\r\n", "\r\n", "", true),
        ]
        for (input, body, rest, finished) in cases {
            let result = Self.decode(input, step: step)
            #expect(result.body == body && result.rest == rest && result.finished == finished, "\(input.debugDescription)")
        }
    }

    @Test func dataDecoderKeepsAtMostItsLimit() {
        let result = Self.decode(String(repeating: "x", count: 10_000) + "\r\n.\r\n", step: 512, limit: 100)
        #expect(result.finished && result.overflow && result.body.utf8.count == 100)
    }

    /// Runs of ordinary bytes are copied at once: however the input is cut into reads, and
    /// wherever the limit falls, the answer is the same.
    @Test func dataDecoderAnswersAlikeHoweverTheInputIsCut() {
        var random = SplitMix64(seed: 5321)
        for _ in 0..<400 {
            let length = Int.random(in: 0..<120, using: &random)
            let input = String((0..<length).map { _ in "ab.\r\n".randomElement(using: &random)! }) + "\r\n.\r\nNOOP\r\n"
            let whole = Self.decode(input, step: 1 << 20)
            #expect(whole.finished)
            for step in [1, 2, 5, 64] {
                let cut = Self.decode(input, step: step)
                #expect(cut.body == whole.body && cut.rest == whole.rest && cut.finished, "\(input.debugDescription) step \(step)")
            }
            let limit = Int.random(in: 0..<40, using: &random)
            let limited = Self.decode(input, step: 3, limit: limit)
            #expect(limited.body == String(whole.body.utf8.prefix(limit))!, "\(input.debugDescription) limit \(limit)")
            #expect(limited.overflow == (whole.body.utf8.count > limit) && limited.rest == whole.rest)
        }
    }

    /// The Received date is RFC 5322 §3.3 date-time in UTC, built without DateFormatter.
    @Test func receivedDates() {
        #expect(RFC5322Date.string(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
        #expect(RFC5322Date.string(Date(timeIntervalSince1970: 1_795_478_132.9)) == "Mon, 23 Nov 2026 23:55:32 +0000")
        #expect(RFC5322Date.string(Date(timeIntervalSince1970: 951_782_400)) == "Tue, 29 Feb 2000 00:00:00 +0000")
    }
}

/// A seeded generator, so that a failing random case can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
