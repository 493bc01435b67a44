/// Assembles one command from the lines and literals a client sends (RFC 3501 §2.2, §7.5;
/// LITERAL+ / LITERAL- RFC 7888): it tells the session when a synchronising literal wants a
/// `+` continuation, how many literal bytes to read next, and when the command is complete —
/// within limits, so that no client can make the server buffer without bound.
///
/// The session loop: `feed(line:)` → `.needLiteral` (send `+ Ready` first when synchronising,
/// then read exactly `size` bytes and `feed(literal:)`) or `.complete(bytes)` for the parser,
/// or a refusal. The assembled bytes are the command as on the wire, literals inline.
public struct IMAPCommandFramer: Sendable {
    public struct Limits: Sendable {
        /// Bytes of command text outside literals (Dovecot's imap_max_line_length is 64 KiB).
        public var maximumText = 64 * 1024
        /// The largest literal in most commands (a password, a search string, a name).
        public var maximumLiteral = 64 * 1024
        /// The largest literal of APPEND: the message (APPENDLIMIT, RFC 7889).
        public var maximumAppendLiteral = 50 * 1024 * 1024
        /// Literals in one command.
        public var maximumLiterals = 64

        public init() {}
    }

    public enum Step: Equatable, Sendable {
        /// A whole command, ready for `IMAPCommandParser.parse`.
        case complete([UInt8])
        /// Read `size` literal bytes next; send a continuation first when `synchronizing`.
        case needLiteral(size: Int, synchronizing: Bool)
        /// Over a limit. A synchronising literal was refused before the client sent it: the
        /// session answers `tag BAD`/`NO [TOOBIG]` and the connection goes on. A non-
        /// synchronising literal is on its way: the session must read and drop `discard`
        /// bytes first (RFC 7888 §4), then answer.
        case refused(tag: String?, reason: String, discard: Int)
    }

    public let limits: Limits
    /// Whether APPEND may announce a message-sized literal: only once the client has logged
    /// in. Before that every literal is held to `maximumLiteral`, so that nobody unknown can
    /// make the server buffer a message.
    public var allowsMessageLiterals = false
    private var assembled: [UInt8] = []
    private var literalBytes = 0
    private var textBytes = 0
    private var literals = 0
    private var isAppend: Bool?

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The tag of the command being assembled, if its first line had one (for error replies).
    public var tag: String? {
        guard let space = assembled.firstIndex(of: UInt8(ascii: " ")), space > 0 else { return nil }
        let tag = assembled[..<space]
        return tag.allSatisfy(IMAPChar.isTagChar) ? String(decoding: tag, as: UTF8.self) : nil
    }

    /// Feeds one line, without its CRLF.
    public mutating func feed(line: [UInt8]) -> Step {
        textBytes += line.count + 2
        guard textBytes <= limits.maximumText else {
            let tag = self.tag ?? Self.tag(of: line)
            let discard = Self.literalAnnouncement(at: line).flatMap { $0.synchronizing ? nil : $0.size } ?? 0
            reset()
            return .refused(tag: tag, reason: "command too long", discard: discard)
        }
        assembled += line
        if isAppend == nil { isAppend = Self.isAppend(assembled) }
        guard let announced = Self.literalAnnouncement(at: line) else {
            let command = assembled
            reset()
            return .complete(command)
        }
        let (size, synchronizing) = (announced.size, announced.synchronizing)
        literals += 1
        let messageLiterals = isAppend == true && allowsMessageLiterals
        let maximum = messageLiterals ? limits.maximumAppendLiteral : limits.maximumLiteral
        // All literals of one command together: one message and a little more for APPEND,
        // a few small ones otherwise.
        let total = messageLiterals ? limits.maximumAppendLiteral + limits.maximumLiteral : 4 * limits.maximumLiteral
        literalBytes += size
        guard literals <= limits.maximumLiterals, size <= maximum, literalBytes <= total else {
            let tag = self.tag
            let reason = literals > limits.maximumLiterals ? "too many literals" : "literal too large"
            reset()
            return .refused(tag: tag, reason: reason, discard: synchronizing ? 0 : size)
        }
        assembled += [0x0D, 0x0A]
        return .needLiteral(size: size, synchronizing: synchronizing)
    }

    /// Feeds the literal's bytes (exactly the size asked for); the next line follows.
    public mutating func feed(literal: [UInt8]) {
        assembled += literal
    }

    /// Forgets a partly assembled command (after a refusal or a lost connection).
    public mutating func reset() {
        assembled = []
        textBytes = 0
        literals = 0
        literalBytes = 0
        isAppend = nil
    }

    /// `{n}` or `{n+}` at the end of a line: the size and whether it is synchronising.
    static func literalAnnouncement(at line: [UInt8]) -> (size: Int, synchronizing: Bool)? {
        guard line.last == UInt8(ascii: "}"), let open = line.lastIndex(of: UInt8(ascii: "{")) else { return nil }
        var digits = line[(open + 1)..<(line.count - 1)]
        var synchronizing = true
        if digits.last == UInt8(ascii: "+") {
            synchronizing = false
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.count <= 10, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let size = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return (size, synchronizing)
    }

    static func tag(of line: [UInt8]) -> String? {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")), space > 0,
              line[..<space].allSatisfy(IMAPChar.isTagChar) else { return nil }
        return String(decoding: line[..<space], as: UTF8.self)
    }

    /// Whether the command is APPEND (its literal is a message, with a larger limit).
    static func isAppend(_ line: [UInt8]) -> Bool {
        let words = line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: false)
        guard words.count >= 2 else { return false }
        return String(decoding: words[1], as: UTF8.self).uppercased() == "APPEND"
    }
}
