/// Parses one complete IMAP command — the line and its literals, as `IMAPCommandFramer`
/// assembled them — into a `TaggedCommand` (RFC 3501 §9 formal syntax, plus LITERAL+,
/// SASL-IR, ID, ENABLE, IDLE, NAMESPACE, UNSELECT, UIDPLUS, MOVE, SPECIAL-USE, QUOTA, CONDSTORE
/// parameters). Pure: no I/O, no state; errors are `IMAPParseError` (answered `BAD`).
public enum IMAPCommandParser {
    public static func parse(_ bytes: [UInt8]) throws(IMAPParseError) -> TaggedCommand {
        var c = ParserCursor(bytes)
        let tag = try c.readTag()
        try c.space()
        let name = try c.keyword("a command name")
        let command = try parseCommand(name, &c)
        try c.expectEnd()
        return TaggedCommand(tag: tag, command: command)
    }

    static func parseCommand(_ name: String, _ c: inout ParserCursor) throws(IMAPParseError) -> IMAPCommand {
        switch name {
        case "CAPABILITY": return .capability
        case "NOOP": return .noop
        case "LOGOUT": return .logout
        case "STARTTLS": return .starttls
        case "CHECK": return .check
        case "CLOSE": return .close
        case "UNSELECT": return .unselect
        case "EXPUNGE": return .expunge
        case "IDLE": return .idle
        case "NAMESPACE": return .namespace
        case "ID": return .id(try idParameters(&c))
        case "AUTHENTICATE":
            try c.space()
            let mechanism = try c.atom("a SASL mechanism").uppercased()
            var initial: [UInt8]?
            if c.take(UInt8(ascii: " ")) {
                // SASL-IR: base64, or "=" for an empty initial response.
                let start = c.index
                while let b = c.peek, b != UInt8(ascii: " ") { c.index += 1 }
                initial = Array(c.bytes[start..<c.index])
                guard !(initial!.isEmpty) else { throw c.error("empty initial response") }
            }
            return .authenticate(mechanism: mechanism, initialResponse: initial)
        case "LOGIN":
            try c.space()
            let user = try c.astring("a user name")
            try c.space()
            return .login(user: user, password: try c.astring("a password"))
        case "ENABLE":
            var capabilities: [String] = []
            while c.take(UInt8(ascii: " ")) { capabilities.append(try c.atom("a capability").uppercased()) }
            guard !capabilities.isEmpty else { throw c.error("ENABLE needs at least one capability") }
            return .enable(capabilities)
        case "SELECT", "EXAMINE":
            try c.space()
            let mailbox = try c.mailbox()
            var parameters: [String] = []
            if c.take(UInt8(ascii: " ")) { parameters = try c.atomList().map { $0.uppercased() } }
            return name == "SELECT" ? .select(mailbox, parameters: parameters) : .examine(mailbox, parameters: parameters)
        case "CREATE":
            try c.space()
            let mailbox = try c.mailbox()
            var uses: [String] = []
            if c.take(UInt8(ascii: " ")) {
                // RFC 6154 §3: CREATE name (USE (\Sent …)).
                try c.expect(UInt8(ascii: "("), "'(' starting CREATE parameters")
                guard try c.keyword() == "USE" else { throw c.error("unknown CREATE parameter") }
                try c.space()
                uses = try c.flagList().map(\.text)
                try c.expect(UInt8(ascii: ")"), "')' closing CREATE parameters")
            }
            return .create(mailbox, specialUse: uses)
        case "DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT":
            try c.space()
            let mailbox = try c.mailbox()
            switch name {
            case "DELETE": return .delete(mailbox)
            case "SUBSCRIBE": return .subscribe(mailbox)
            case "UNSUBSCRIBE": return .unsubscribe(mailbox)
            default: return .getQuotaRoot(mailbox)
            }
        case "RENAME":
            try c.space()
            let from = try c.mailbox()
            try c.space()
            return .rename(from, to: try c.mailbox())
        case "LIST": return try list(&c)
        case "LSUB":
            try c.space()
            let reference = try c.mailbox()
            try c.space()
            return .lsub(reference: reference, pattern: try c.listMailbox())
        case "STATUS":
            try c.space()
            let mailbox = try c.mailbox()
            try c.space()
            return .status(mailbox, try statusAttributes(&c))
        case "APPEND": return try append(&c)
        case "GETQUOTA":
            try c.space()
            return .getQuota(root: try c.astring("a quota root"))
        case "SETQUOTA":
            try c.space()
            let root = try c.astring("a quota root")
            try c.space()
            try c.expect(UInt8(ascii: "("), "'(' starting the limits")
            var limits: [QuotaLimit] = []
            if !c.take(UInt8(ascii: ")")) {
                repeat {
                    let resource = try c.atom("a resource name").uppercased()
                    try c.space()
                    limits.append(QuotaLimit(resource, try c.number(max: UInt64(Int64.max))))
                } while c.take(UInt8(ascii: " "))
                try c.expect(UInt8(ascii: ")"), "')' closing the limits")
            }
            return .setQuota(root: root, limits: limits)
        case "SEARCH": return try search(&c, uid: false)
        case "FETCH": return try fetch(&c, uid: false)
        case "STORE": return try store(&c, uid: false)
        case "COPY", "MOVE":
            try c.space()
            let set = try c.sequenceSet()
            try c.space()
            let mailbox = try c.mailbox()
            return name == "COPY" ? .copy(set, mailbox, uid: false) : .move(set, mailbox, uid: false)
        case "UID":
            try c.space()
            let sub = try c.keyword("a UID command")
            switch sub {
            case "SEARCH": return try search(&c, uid: true)
            case "FETCH": return try fetch(&c, uid: true)
            case "STORE": return try store(&c, uid: true)
            case "EXPUNGE":
                try c.space()
                return .uidExpunge(try c.sequenceSet())
            case "COPY", "MOVE":
                try c.space()
                let set = try c.sequenceSet()
                try c.space()
                let mailbox = try c.mailbox()
                return sub == "COPY" ? .copy(set, mailbox, uid: true) : .move(set, mailbox, uid: true)
            default:
                throw c.error("unknown UID command \(sub)")
            }
        default:
            throw c.error("unknown command \(name)")
        }
    }

    /// id-params-list = "(" *(string SP nstring) ")" / nil (RFC 2971).
    static func idParameters(_ c: inout ParserCursor) throws(IMAPParseError) -> [IDField]? {
        try c.space()
        if c.takeWord("NIL") { return nil }
        try c.expect(UInt8(ascii: "("), "'(' or NIL")
        var fields: [IDField] = []
        if c.take(UInt8(ascii: ")")) { return fields }
        repeat {
            let key = String(decoding: try c.string("a field name"), as: UTF8.self)
            try c.space()
            let value = try c.nstring().map { String(decoding: $0, as: UTF8.self) }
            fields.append(IDField(key, value))
            guard fields.count <= 30 else { throw c.error("too many ID fields") }
        } while c.take(UInt8(ascii: " "))
        try c.expect(UInt8(ascii: ")"), "')' closing the ID list")
        return fields
    }

    /// LIST [SP "(" selection ")"] SP mailbox SP (list-mailbox / "(" patterns ")")
    /// [SP RETURN SP "(" options ")"] — RFC 3501 with RFC 5258 / 6154 extensions.
    static func list(_ c: inout ParserCursor) throws(IMAPParseError) -> IMAPCommand {
        var options = ListOptions()
        try c.space()
        if c.peek == UInt8(ascii: "(") {
            options.selection = try c.atomList().map { $0.uppercased() }
            try c.space()
        }
        let reference = try c.mailbox()
        try c.space()
        var patterns: [[UInt8]] = []
        if c.take(UInt8(ascii: "(")) {
            repeat { patterns.append(try c.listMailbox()) } while c.take(UInt8(ascii: " "))
            try c.expect(UInt8(ascii: ")"), "')' closing the patterns")
        } else {
            patterns = [try c.listMailbox()]
        }
        if c.take(UInt8(ascii: " ")) {
            guard try c.keyword() == "RETURN" else { throw c.error("expected RETURN") }
            try c.space()
            try c.expect(UInt8(ascii: "("), "'(' starting return options")
            if !c.take(UInt8(ascii: ")")) {
                repeat {
                    let option = try c.keyword("a return option")
                    if option == "STATUS" {
                        try c.space()
                        options.returnStatus = try statusAttributes(&c)
                    } else {
                        options.returnOptions.append(option)
                    }
                } while c.take(UInt8(ascii: " "))
                try c.expect(UInt8(ascii: ")"), "')' closing return options")
            }
        }
        return .list(reference: reference, patterns: patterns, options: options)
    }

    /// "(" status-att *(SP status-att) ")".
    static func statusAttributes(_ c: inout ParserCursor) throws(IMAPParseError) -> [StatusAttribute] {
        try c.expect(UInt8(ascii: "("), "'(' starting status items")
        var items: [StatusAttribute] = []
        repeat {
            let word = try c.keyword("a status item")
            guard let item = StatusAttribute(rawValue: word) else { throw c.error("unknown status item \(word)") }
            items.append(item)
        } while c.take(UInt8(ascii: " "))
        try c.expect(UInt8(ascii: ")"), "')' closing status items")
        return items
    }

    /// APPEND SP mailbox [SP flag-list] [SP date-time] SP literal.
    static func append(_ c: inout ParserCursor) throws(IMAPParseError) -> IMAPCommand {
        try c.space()
        let mailbox = try c.mailbox()
        try c.space()
        var flags: [Flag] = []
        if c.peek == UInt8(ascii: "(") {
            flags = try c.flagList()
            try c.space()
        }
        var date: IMAPDateTime?
        if c.peek == UInt8(ascii: "\"") {
            date = try c.dateTime()
            try c.space()
        }
        guard c.peek == UInt8(ascii: "{") else { throw c.error("APPEND needs the message as a literal") }
        return .append(mailbox, flags: flags, date: date, message: try c.literal())
    }

    /// STORE SP sequence-set [SP "(" UNCHANGEDSINCE n ")"] SP (["+" / "-"] "FLAGS" [".SILENT"])
    /// SP (flag-list / (flag *(SP flag))).
    static func store(_ c: inout ParserCursor, uid: Bool) throws(IMAPParseError) -> IMAPCommand {
        try c.space()
        let set = try c.sequenceSet()
        try c.space()
        var unchangedSince: UInt64?
        if c.take(UInt8(ascii: "(")) {
            guard try c.keyword() == "UNCHANGEDSINCE" else { throw c.error("unknown STORE modifier") }
            try c.space()
            unchangedSince = try c.number(max: UInt64(Int64.max))
            try c.expect(UInt8(ascii: ")"), "')' closing STORE modifiers")
            try c.space()
        }
        let mode: StoreMode = c.take(UInt8(ascii: "+")) ? .add : c.take(UInt8(ascii: "-")) ? .remove : .replace
        let item = try c.keyword("FLAGS or FLAGS.SILENT")
        guard item == "FLAGS" || item == "FLAGS.SILENT" else { throw c.error("expected FLAGS or FLAGS.SILENT") }
        try c.space()
        var flags: [Flag]
        if c.peek == UInt8(ascii: "(") {
            flags = try c.flagList()
        } else {
            flags = [try c.flag()]
            while c.take(UInt8(ascii: " ")) { flags.append(try c.flag()) }
        }
        return .store(set, mode: mode, silent: item == "FLAGS.SILENT", flags: flags, uid: uid, unchangedSince: unchangedSince)
    }
}
