import IMAPServer
import Testing

/// Command framing: literals, continuations and the limits that bound what a client can make
/// the server hold.
@Suite struct IMAPFramerTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func linesAndLiteralsMakeOneCommand() throws {
        var framer = IMAPCommandFramer()
        #expect(framer.feed(line: Self.bytes("a1 NOOP")) == .complete(Self.bytes("a1 NOOP")))
        #expect(framer.feed(line: Self.bytes("a2 LOGIN {4}")) == .needLiteral(size: 4, synchronizing: true))
        framer.feed(literal: Self.bytes("fred"))
        #expect(framer.feed(line: Self.bytes(" {6+}")) == .needLiteral(size: 6, synchronizing: false))
        framer.feed(literal: Self.bytes("secret"))
        let step = framer.feed(line: [])
        #expect(step == .complete(Self.bytes("a2 LOGIN {4}\r\nfred {6+}\r\nsecret")))
        if case .complete(let command) = step {
            #expect(try IMAPCommandParser.parse(command) ==
                    TaggedCommand(tag: "a2", command: .login(user: Self.bytes("fred"), password: Self.bytes("secret"))))
        }
    }

    @Test func literalLimitsDependOnTheCommand() {
        var limits = IMAPCommandFramer.Limits()
        limits.maximumLiteral = 100
        limits.maximumAppendLiteral = 1000
        var framer = IMAPCommandFramer(limits: limits)
        // Before login APPEND is held to the small limit: nobody unknown gets a message buffered.
        #expect(framer.feed(line: Self.bytes("p APPEND INBOX {1000}")) == .refused(tag: "p", reason: "literal too large", discard: 0))
        framer.allowsMessageLiterals = true
        // A literal announced at 1 GB is refused before the client sends it.
        #expect(framer.feed(line: Self.bytes("a LOGIN {1073741824}")) == .refused(tag: "a", reason: "literal too large", discard: 0))
        // Non-synchronising: the bytes are on their way and must be read and dropped.
        #expect(framer.feed(line: Self.bytes("b LOGIN {101+}")) == .refused(tag: "b", reason: "literal too large", discard: 101))
        #expect(framer.feed(line: Self.bytes("c APPEND INBOX {1000}")) == .needLiteral(size: 1000, synchronizing: true))
        framer.reset()
        #expect(framer.feed(line: Self.bytes("d append INBOX {1001}")) == .refused(tag: "d", reason: "literal too large", discard: 0))
        // After a refusal the framer starts afresh.
        #expect(framer.feed(line: Self.bytes("e NOOP")) == .complete(Self.bytes("e NOOP")))
        // All literals of one command together are bounded too: one message, not many.
        #expect(framer.feed(line: Self.bytes("f APPEND INBOX {1000}")) == .needLiteral(size: 1000, synchronizing: true))
        framer.feed(literal: [UInt8](repeating: 0x78, count: 1000))
        #expect(framer.feed(line: Self.bytes(" {1000}")) == .refused(tag: "f", reason: "literal too large", discard: 0))
    }

    @Test func textAndLiteralCountsAreBounded() {
        var limits = IMAPCommandFramer.Limits()
        limits.maximumText = 1000
        limits.maximumLiterals = 3
        var framer = IMAPCommandFramer(limits: limits)
        let long = Self.bytes("a SEARCH TEXT " + String(repeating: "x", count: 2000))
        #expect(framer.feed(line: long) == .refused(tag: "a", reason: "command too long", discard: 0))
        for _ in 0..<3 {
            guard case .needLiteral = framer.feed(line: Self.bytes("b SEARCH TEXT {1}")) else {
                Issue.record("expected a literal")
                return
            }
            framer.feed(literal: [0x78])
        }
        #expect(framer.feed(line: Self.bytes(" TEXT {1}")) == .refused(tag: "b", reason: "too many literals", discard: 0))
        // Many short lines with literals still count against the text limit.
        var small = IMAPCommandFramer(limits: limits)
        var refused = false
        for _ in 0..<200 {
            if case .refused = small.feed(line: Self.bytes("c SEARCH OR TEXT xxxxxxxxxx TEXT")) { refused = true; break }
        }
        #expect(refused == false)  // each of those lines is a whole command
        #expect(IMAPCommandFramer.Limits().maximumAppendLiteral == 50 * 1024 * 1024)
    }

    @Test func notALiteral() {
        var framer = IMAPCommandFramer()
        // Braces that are not a literal announcement end the command (the parser decides).
        #expect(framer.feed(line: Self.bytes("a LOGIN x {abc}")) == .complete(Self.bytes("a LOGIN x {abc}")))
        #expect(framer.feed(line: Self.bytes("a LOGIN x {}")) == .complete(Self.bytes("a LOGIN x {}")))
        #expect(framer.feed(line: Self.bytes("a LOGIN x {12345678901}")) == .complete(Self.bytes("a LOGIN x {12345678901}")))
    }
}
