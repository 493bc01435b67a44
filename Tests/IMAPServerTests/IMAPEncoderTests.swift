import IMAPServer
import Testing

/// Responses as RFC 3501 §7 and the extensions' RFCs print them.
@Suite struct IMAPEncoderTests {
    static func text(_ response: IMAPResponse) -> String { String(decoding: IMAPEncoder.encode(response), as: UTF8.self) }

    @Test func statusResponses() {
        #expect(Self.text(.untagged(.ok, .unseen(17), "Message 17 is the first unseen message")) ==
                "* OK [UNSEEN 17] Message 17 is the first unseen message\r\n")
        #expect(Self.text(.untagged(.ok, .permanentFlags([.deleted, .seen], allowsNew: true), "Limited")) ==
                "* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n")
        #expect(Self.text(.tagged("A142", .ok, .readWrite, "SELECT completed")) == "A142 OK [READ-WRITE] SELECT completed\r\n")
        #expect(Self.text(.tagged("A003", .ok, .appendUID(validity: 38505, uid: 3955), "APPEND completed")) ==
                "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n")
        #expect(Self.text(.tagged("A004", .ok, .copyUID(validity: 38505, source: [304...304, 319...320], destination: [3956...3958]), "Done")) ==
                "A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n")
        #expect(Self.text(.tagged("a", .no, .privacyRequired, "Use STARTTLS first")) == "a NO [PRIVACYREQUIRED] Use STARTTLS first\r\n")
        #expect(Self.text(.tagged("a", .no, .overQuota, "Quota exceeded")) == "a NO [OVERQUOTA] Quota exceeded\r\n")
        #expect(Self.text(.untagged(.bye, nil, "IMAP4rev1 Server logging out")) == "* BYE IMAP4rev1 Server logging out\r\n")
        #expect(Self.text(.continuation("Ready for additional command text")) == "+ Ready for additional command text\r\n")
        // Text never breaks the line, whatever it holds.
        #expect(Self.text(.tagged("a", .bad, nil, "bad\r\n* OK injected")) == "a BAD bad* OK injected\r\n")
    }

    @Test func dataResponses() {
        #expect(Self.text(.data(.capability(["IMAP4rev1", "STARTTLS", "AUTH=GSSAPI", "LOGINDISABLED"]))) ==
                "* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED\r\n")
        #expect(Self.text(.data(.flags([.answered, .flagged, .deleted, .seen, .draft]))) ==
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n")
        #expect(Self.text(.data(.exists(23))) == "* 23 EXISTS\r\n")
        #expect(Self.text(.data(.recent(5))) == "* 5 RECENT\r\n")
        #expect(Self.text(.data(.expunge(44))) == "* 44 EXPUNGE\r\n")
        #expect(Self.text(.data(.list(attributes: ["\\Noselect"], delimiter: "/", name: Array("~/Mail/foo".utf8)))) ==
                "* LIST (\\Noselect) \"/\" \"~/Mail/foo\"\r\n")
        #expect(Self.text(.data(.lsub(attributes: [], delimiter: nil, name: Array("INBOX".utf8)))) == "* LSUB () NIL \"INBOX\"\r\n")
        #expect(Self.text(.data(.status(name: Array("blurdybloop".utf8), [StatusItem(.messages, 231), StatusItem(.uidNext, 44292)]))) ==
                "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n")
        #expect(Self.text(.data(.search([2, 84, 882], highestModSeq: nil))) == "* SEARCH 2 84 882\r\n")
        #expect(Self.text(.data(.search([], highestModSeq: nil))) == "* SEARCH\r\n")
        #expect(Self.text(.data(.namespace(prefix: "", delimiter: "/"))) == "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n")
        #expect(Self.text(.data(.id([IDField("name", "Petrel"), IDField("version", nil)]))) == "* ID (\"name\" \"Petrel\" \"version\" NIL)\r\n")
        #expect(Self.text(.data(.id(nil))) == "* ID NIL\r\n")
        #expect(Self.text(.data(.enabled(["CONDSTORE"]))) == "* ENABLED CONDSTORE\r\n")
        #expect(Self.text(.data(.quota(root: [], [QuotaResource("STORAGE", usage: 10, limit: 512)]))) == "* QUOTA \"\" (STORAGE 10 512)\r\n")
        #expect(Self.text(.data(.quotaRoot(mailbox: Array("INBOX".utf8), roots: [[]]))) == "* QUOTAROOT INBOX \"\"\r\n")
    }

    /// RFC 3501 §7.4.2's FETCH example, with the message bytes as a literal.
    @Test func fetchResponses() {
        let seconds = IMAPDateTime(year: 1996, month: 7, day: 17, hour: 2, minute: 44, second: 25, zoneMinutes: -420).secondsSince1970
        #expect(Self.text(.data(.fetch(12, [.flags([.seen]), .internalDate(seconds: seconds, zoneMinutes: -420), .rfc822Size(4286)]))) ==
                "* 12 FETCH (FLAGS (\\Seen) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" RFC822.SIZE 4286)\r\n")
        #expect(Self.text(.data(.fetch(3, [.uid(9), .section(.body(SectionSpec(), origin: nil), Array("Hi\r\n".utf8))]))) ==
                "* 3 FETCH (UID 9 BODY[] {4}\r\nHi\r\n)\r\n")
        #expect(Self.text(.data(.fetch(1, [.section(.body(SectionSpec(part: [1, 2], text: .headerFields(["FROM", "x y"])), origin: 0), nil)]))) ==
                "* 1 FETCH (BODY[1.2.HEADER.FIELDS (FROM \"x y\")]<0> NIL)\r\n")
        #expect(Self.text(.data(.fetch(2, [.section(.rfc822Header, []), .modSeq(12), .envelope(Array("(NIL)".utf8))]))) ==
                "* 2 FETCH (RFC822.HEADER {0}\r\n MODSEQ (12) ENVELOPE (NIL))\r\n")
        #expect(IMAPEncoder.dateTime(0, zoneMinutes: 0) == "01-Jan-1970 00:00:00 +0000")
        #expect(IMAPEncoder.dateTime(951_782_400 - 1, zoneMinutes: 330) == "29-Feb-2000 05:29:59 +0530")
    }

    /// Names and strings from clients come back in a form the grammar can carry.
    @Test func stringsChooseTheirForm() {
        func astring(_ s: [UInt8]) -> String {
            var out: [UInt8] = []
            IMAPEncoder.astring(s, into: &out)
            return String(decoding: out, as: UTF8.self)
        }
        #expect(astring(Array("INBOX".utf8)) == "INBOX")
        #expect(astring(Array("nil".utf8)) == "\"nil\"")
        #expect(astring([]) == "\"\"")
        #expect(astring(Array("a b".utf8)) == "\"a b\"")
        #expect(astring(Array("say \"hi\" \\o/".utf8)) == "\"say \\\"hi\\\" \\\\o/\"")
        #expect(astring(Array("Entwürfe".utf8)) == "{9}\r\nEntwürfe")
        #expect(astring(Array("two\r\nlines".utf8)) == "{10}\r\ntwo\r\nlines")
    }
}

/// RFC 3501 §5.1.3 mailbox names.
@Suite struct ModifiedUTF7Tests {
    @Test func rfcExamplesRoundTrip() {
        #expect(ModifiedUTF7.encode("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-")
        #expect(ModifiedUTF7.decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-") == "~peter/mail/台北/日本語")
        #expect(ModifiedUTF7.encode("Entwürfe") == "Entw&APw-rfe")
        #expect(ModifiedUTF7.encode("R&D") == "R&-D")
        #expect(ModifiedUTF7.decode("R&-D") == "R&D")
        #expect(ModifiedUTF7.decode("Entw&APw-rfe") == "Entwürfe")
        for name in ["😀 emoji", "Ünïcödé/ünter", "plain", "&&", "a&b&c-d"] {
            #expect(ModifiedUTF7.decode(ModifiedUTF7.encode(name)) == name, "\(name)")
        }
    }

    @Test func invalidFormsAreRefused() {
        for text in ["&Jjo!", "&U,BTFw", "&AGE-", "&2D3-", "tab\there", "&ZeVnLIqe"] {
            #expect(ModifiedUTF7.decode(text) == nil, "\(text)")
        }
    }
}
