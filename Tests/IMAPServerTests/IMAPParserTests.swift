import IMAPServer
import Testing

/// The command parser against RFC 3501's own examples (§6) and the extensions' RFCs.
@Suite struct IMAPParserTests {
    static func parse(_ text: String) throws -> TaggedCommand {
        try IMAPCommandParser.parse(Array(text.utf8))
    }

    static func command(_ text: String) throws -> IMAPCommand { try parse(text).command }

    @Test func anyStateAndNotAuthenticatedCommands() throws {
        #expect(try Self.parse("a001 CAPABILITY") == TaggedCommand(tag: "a001", command: .capability))
        #expect(try Self.command("a002 NOOP") == .noop)
        #expect(try Self.command("A023 LOGOUT") == .logout)
        #expect(try Self.command("a001 starttls") == .starttls)
        #expect(try Self.command("a001 LOGIN SMITH SESAME") == .login(user: Array("SMITH".utf8), password: Array("SESAME".utf8)))
        #expect(try Self.command("a1 LOGIN \"fred \\\"the\\\" smith\" {6}\r\npa ss!") ==
                .login(user: Array("fred \"the\" smith".utf8), password: Array("pa ss!".utf8)))
        #expect(try Self.command("a1 LOGIN joe {3+}\r\nx\"y") == .login(user: Array("joe".utf8), password: Array("x\"y".utf8)))
        #expect(try Self.command("A001 AUTHENTICATE GSSAPI") == .authenticate(mechanism: "GSSAPI", initialResponse: nil))
        #expect(try Self.command("a AUTHENTICATE plain AGZyZWQAc2VjcmV0") ==
                .authenticate(mechanism: "PLAIN", initialResponse: Array("AGZyZWQAc2VjcmV0".utf8)))
        #expect(try Self.command("a AUTHENTICATE PLAIN =") == .authenticate(mechanism: "PLAIN", initialResponse: Array("=".utf8)))
        #expect(try Self.command("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)") ==
                .id([IDField("name", "sodr"), IDField("version", "19.34"), IDField("vendor", nil)]))
        #expect(try Self.command("a ID NIL") == .id(nil))
        #expect(try Self.command("t ENABLE CONDSTORE UTF8=ACCEPT") == .enable(["CONDSTORE", "UTF8=ACCEPT"]))
    }

    @Test func authenticatedStateCommands() throws {
        #expect(try Self.command("A142 SELECT INBOX") == .select(MailboxArgument("INBOX"), parameters: []))
        #expect(try Self.command("A142 SELECT \"INBOX\" (CONDSTORE)") == .select(MailboxArgument("INBOX"), parameters: ["CONDSTORE"]))
        #expect(try Self.command("A932 EXAMINE blurdybloop") == .examine(MailboxArgument("blurdybloop"), parameters: []))
        #expect(try Self.command("A003 CREATE owatagusiam/") == .create(MailboxArgument("owatagusiam/"), specialUse: []))
        #expect(try Self.command("t1 CREATE \"Important Messages\" (USE (\\Important))") ==
                .create(MailboxArgument("Important Messages"), specialUse: ["\\Important"]))
        #expect(try Self.command("A683 DELETE blurdybloop") == .delete(MailboxArgument("blurdybloop")))
        #expect(try Self.command("A683 RENAME blurdybloop sarasoop") == .rename(MailboxArgument("blurdybloop"), to: MailboxArgument("sarasoop")))
        #expect(try Self.command("A002 SUBSCRIBE #news.comp.mail.mime") == .subscribe(MailboxArgument("#news.comp.mail.mime")))
        #expect(try Self.command("A002 UNSUBSCRIBE #news.comp.mail.mime") == .unsubscribe(MailboxArgument("#news.comp.mail.mime")))
        #expect(try Self.command("A101 LIST \"\" \"\"") == .list(reference: MailboxArgument(""), patterns: [[]], options: ListOptions()))
        #expect(try Self.command("A202 LIST ~/Mail/ %") ==
                .list(reference: MailboxArgument("~/Mail/"), patterns: [Array("%".utf8)], options: ListOptions()))
        #expect(try Self.command("A002 LSUB \"#news.\" \"comp.mail.*\"") ==
                .lsub(reference: MailboxArgument("#news."), pattern: Array("comp.mail.*".utf8)))
        #expect(try Self.command("A042 STATUS blurdybloop (UIDNEXT MESSAGES)") == .status(MailboxArgument("blurdybloop"), [.uidNext, .messages]))
        #expect(try Self.command("a NAMESPACE") == .namespace)
        #expect(try Self.command("a IDLE") == .idle)
        #expect(try Self.command("G GETQUOTAROOT INBOX") == .getQuotaRoot(MailboxArgument("INBOX")))
        #expect(try Self.command("G GETQUOTA \"\"") == .getQuota(root: []))
        #expect(try Self.command("S SETQUOTA \"\" (STORAGE 512)") == .setQuota(root: [], limits: [QuotaLimit("STORAGE", 512)]))
    }

    /// RFC 5258 / RFC 6154 LIST forms.
    @Test func extendedList() throws {
        guard case .list(_, let patterns, let options) =
                try Self.command("t1 LIST (SPECIAL-USE) \"\" (\"*\" \"Lists/%\") RETURN (CHILDREN STATUS (MESSAGES UNSEEN))") else {
            Issue.record("not a LIST")
            return
        }
        #expect(patterns == [Array("*".utf8), Array("Lists/%".utf8)])
        #expect(options.selection == ["SPECIAL-USE"])
        #expect(options.returnOptions == ["CHILDREN"])
        #expect(options.returnStatus == [.messages, .unseen])
        guard case .list(_, _, let only) = try Self.command("t3 LIST \"\" \"%\" RETURN (SPECIAL-USE)") else { return }
        #expect(only.returnOptions == ["SPECIAL-USE"])
    }

    /// RFC 3501 §6.3.11's example, byte for byte.
    @Test func appendWithFlagsDateAndLiteral() throws {
        let message = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.COM>\r\n\r\nHello Joe\r\n"
        let text = "A003 APPEND saved-messages (\\Seen) \"07-Feb-1994 21:52:25 -0800\" {\(message.utf8.count)}\r\n\(message)"
        guard case .append(let mailbox, let flags, let date, let bytes) = try Self.command(text) else {
            Issue.record("not an APPEND")
            return
        }
        #expect(mailbox == MailboxArgument("saved-messages"))
        #expect(flags == [.seen])
        #expect(date == IMAPDateTime(year: 1994, month: 2, day: 7, hour: 21, minute: 52, second: 25, zoneMinutes: -480))
        #expect(date?.secondsSince1970 == 760_686_745)
        #expect(bytes == Array(message.utf8))
        #expect(try Self.command("a APPEND INBOX {2+}\r\nhi") == .append(MailboxArgument("INBOX"), flags: [], date: nil, message: Array("hi".utf8)))
        #expect(try Self.command("a APPEND INBOX \" 7-Feb-1994 01:02:03 +0130\" {1}\r\nx") ==
                .append(MailboxArgument("INBOX"), flags: [], date: IMAPDateTime(year: 1994, month: 2, day: 7, hour: 1, minute: 2,
                                                                                  second: 3, zoneMinutes: 90), message: [0x78]))
    }

    @Test func selectedStateCommands() throws {
        #expect(try Self.command("FXXZ CHECK") == .check)
        #expect(try Self.command("A341 CLOSE") == .close)
        #expect(try Self.command("a UNSELECT") == .unselect)
        #expect(try Self.command("A202 EXPUNGE") == .expunge)
        #expect(try Self.command("A003 UID EXPUNGE 3000:3002") == .uidExpunge(SequenceSet([.init(.number(3000), .number(3002))])))
        #expect(try Self.command("A003 STORE 2:4 +FLAGS (\\Deleted)") ==
                .store(SequenceSet([.init(.number(2), .number(4))]), mode: .add, silent: false, flags: [.deleted], uid: false,
                       unchangedSince: nil))
        #expect(try Self.command("a UID STORE 1:* -FLAGS.SILENT \\Seen $Junk") ==
                .store(SequenceSet([.init(.number(1), .last)]), mode: .remove, silent: true, flags: [.seen, .keyword("$Junk")],
                       uid: true, unchangedSince: nil))
        #expect(try Self.command("a STORE 1 (UNCHANGEDSINCE 12) FLAGS ()") ==
                .store(SequenceSet([.init(.number(1), .number(1))]), mode: .replace, silent: false, flags: [], uid: false,
                       unchangedSince: 12))
        #expect(try Self.command("A003 COPY 2:4 MEETING") == .copy(SequenceSet([.init(.number(2), .number(4))]), MailboxArgument("MEETING"), uid: false))
        #expect(try Self.command("a UID MOVE 42,44:* Trash") ==
                .move(SequenceSet([.init(.number(42), .number(42)), .init(.number(44), .last)]), MailboxArgument("Trash"), uid: true))
    }

    @Test func fetchItems() throws {
        #expect(try Self.command("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])") ==
                .fetch(SequenceSet([.init(.number(2), .number(4))]),
                       [.flags, .section(SectionSpec(text: .headerFields(["DATE", "FROM"])), partial: nil, peek: false)],
                       uid: false, changedSince: nil))
        #expect(try Self.command("a FETCH 1 ALL") == .fetch(SequenceSet([.init(.number(1), .number(1))]), FetchAttribute.all, uid: false, changedSince: nil))
        #expect(try Self.command("a FETCH 1 fast") == .fetch(SequenceSet([.init(.number(1), .number(1))]), FetchAttribute.fast, uid: false, changedSince: nil))
        guard case .fetch(let set, let items, true, let since) =
                try Self.command("A999 UID FETCH 4827313:4828442 (FLAGS BODY.PEEK[1.2.MIME] BODY[]<0.2048> RFC822.SIZE BODY BODYSTRUCTURE ENVELOPE INTERNALDATE RFC822 RFC822.HEADER RFC822.TEXT MODSEQ) (CHANGEDSINCE 7)") else {
            Issue.record("not a UID FETCH")
            return
        }
        #expect(set == SequenceSet([.init(.number(4_827_313), .number(4_828_442))]))
        #expect(since == 7)
        #expect(items == [.uid, .flags, .section(SectionSpec(part: [1, 2], text: .mime), partial: nil, peek: true),
                          .section(SectionSpec(), partial: Partial(origin: 0, length: 2048), peek: false), .rfc822Size, .body,
                          .bodyStructure, .envelope, .internalDate, .rfc822, .rfc822Header, .rfc822Text, .modSeq])
        #expect(items.filter(\.setsSeen).count == 3)
        guard case .fetch(_, let more, false, nil) = try Self.command("a FETCH * (BODY[3.TEXT] BODY.PEEK[2.HEADER.FIELDS.NOT (x-a \"Y\")] BODY[4])") else {
            return
        }
        #expect(more == [.section(SectionSpec(part: [3], text: .text), partial: nil, peek: false),
                         .section(SectionSpec(part: [2], text: .headerFieldsNot(["x-a", "Y"])), partial: nil, peek: true),
                         .section(SectionSpec(part: [4]), partial: nil, peek: false)])
    }

    @Test func searchKeys() throws {
        let d = SearchDate(year: 1994, month: 2, day: 1)
        #expect(try Self.command("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"") ==
                .search(charset: nil, key: .and([.flagged, .since(d), .not(.from("Smith"))]), uid: false))
        #expect(try Self.command("A283 SEARCH TEXT \"string not in mailbox\"") ==
                .search(charset: nil, key: .text("string not in mailbox"), uid: false))
        #expect(try Self.command("A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX") ==
                .search(charset: "UTF-8", key: .text("XXXXXX"), uid: false))
        #expect(try Self.command("a UID SEARCH OR (SEEN UNSEEN) HEADER X-Spam yes 1:5,7 UID 2:* LARGER 10 SENTON \"01-Feb-1994\"") ==
                .search(charset: nil, key: .and([.or(.and([.seen, .unseen]), .header("X-Spam", "yes")),
                                                 .sequence(SequenceSet([.init(.number(1), .number(5)), .init(.number(7), .number(7))])),
                                                 .uid(SequenceSet([.init(.number(2), .last)])), .larger(10), .sentOn(d)]), uid: true))
        #expect(try Self.command("a SEARCH KEYWORD $Forwarded UNKEYWORD Junk MODSEQ 5") ==
                .search(charset: nil, key: .and([.keyword("$Forwarded"), .unkeyword("Junk"), .modSeq(5)]), uid: false))
    }

    @Test func sequenceSetsResolve() {
        let set = SequenceSet([.init(.number(7), .number(3)), .init(.last, .last), .init(.number(4), .number(9))])
        #expect(set.resolved(largest: 20) == [3...9, 20...20])
        #expect(SequenceSet([.init(.number(5), .last)]).resolved(largest: 2) == [2...5])
        #expect(SequenceSet([.init(.number(1), .number(4_294_967_295)), .init(.number(3), .number(3))]).resolved(largest: 9)
                == [1...4_294_967_295])
    }

    /// Malformed commands are parse errors naming the tag when there is one (→ `tag BAD`).
    @Test(arguments: [
        ("", nil), ("a", "a"), ("+tag NOOP", nil), ("a NOOP extra", "a"), ("a FETCH 0 FLAGS", "a"), ("a FETCH 1:4294967296 FLAGS", "a"),
        ("a FETCH 1,,2 FLAGS", "a"), ("a FETCH 1 (FLAGS", "a"), ("a FETCH 1 BODY.PEEK", "a"), ("a FETCH 1 BODY[1.]", "a"),
        ("a FETCH 1 BODY[MIME]", "a"), ("a FETCH 1 BODY[]<5.0>", "a"), ("a FETCH 1 ALL FLAGS", "a"), ("a FETCH 1 (ALL)", "a"),
        ("a LOGIN \"unterminated", "a"), ("a LOGIN \"bad\\escape\" x", "a"), ("a LOGIN {10}\r\nshort", "a"),
        ("a LOGIN {99999999999}\r\n", "a"), ("a SEARCH", "a"), ("a SEARCH BEFORE 31-Foo-2020", "a"), ("a SEARCH NOT", "a"),
        ("a STORE 1 FLAGS.LOUD (\\Seen)", "a"), ("a STORE 1 +FLAGS (\\*)", "a"), ("a APPEND INBOX (\\Seen)", "a"),
        ("a APPEND INBOX \"32-Jan-2020 00:00:00 +0000\" {1}\r\nx", "a"), ("a STATUS INBOX (BOGUS)", "a"), ("a UID WHAT 1", "a"),
        ("a FROBNICATE", "a"), ("a ENABLE", "a"), ("a LOGIN nul {1}\r\n\u{0}", "a"), ("a SELECT INBOX (", "a"),
    ] as [(String, String?)])
    func malformedCommandsAreErrors(text: String, tag: String?) {
        #expect(throws: IMAPParseError.self) { try Self.parse(text) }
        do {
            _ = try Self.parse(text)
        } catch let error as IMAPParseError {
            #expect(error.tag == tag)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// Deep nesting is refused, not recursed into until the stack runs out.
    @Test func deepNestingIsBounded() {
        let deep = "a SEARCH " + String(repeating: "(", count: 10_000) + "ALL" + String(repeating: ")", count: 10_000)
        #expect(throws: IMAPParseError.self) { try Self.parse(deep) }
        let nots = "a SEARCH " + String(repeating: "NOT ", count: 10_000) + "ALL"
        #expect(throws: IMAPParseError.self) { try Self.parse(nots) }
        let fine = "a SEARCH " + String(repeating: "(", count: 20) + "ALL" + String(repeating: ")", count: 20)
        #expect(throws: Never.self) { try Self.parse(fine) }
    }
}
