/// Renders responses to bytes (RFC 3501 §7, §9). Strings go out as atoms where the grammar
/// allows one and it is safe, as quoted strings when they are short 7-bit text, and as
/// literals otherwise — so no client-supplied byte can break the framing.
public enum IMAPEncoder {
    public static func encode(_ response: IMAPResponse) -> [UInt8] {
        var out: [UInt8] = []
        encode(response, into: &out)
        return out
    }

    public static func encode(_ response: IMAPResponse, into out: inout [UInt8]) {
        switch response {
        case .tagged(let tag, let status, let code, let text):
            out += Array(tag.utf8)
            out.append(0x20)
            statusLine(status, code, text, into: &out)
        case .untagged(let status, let code, let text):
            out += Array("* ".utf8)
            statusLine(status, code, text, into: &out)
        case .continuation(let text):
            out += Array("+ \(sanitized(text))".utf8)
        case .data(let data):
            out += Array("* ".utf8)
            encode(data, into: &out)
        }
        out += [0x0D, 0x0A]
    }

    static func statusLine(_ status: ResponseStatus, _ code: ResponseCode?, _ text: String, into out: inout [UInt8]) {
        out += Array(status.rawValue.utf8)
        if let code { out += Array(" [\(code.text)]".utf8) }
        // resp-text needs at least one character after the code (RFC 3501 `text` = 1*TEXT-CHAR).
        out += Array(" \(text.isEmpty ? "done" : sanitized(text))".utf8)
    }

    /// Text for a status line: one line, no CR/LF/NUL.
    static func sanitized(_ text: String) -> String {
        String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init))
    }

    static func encode(_ data: UntaggedData, into out: inout [UInt8]) {
        switch data {
        case .capability(let caps): out += Array((["CAPABILITY"] + caps).joined(separator: " ").utf8)
        case .flags(let flags): out += Array("FLAGS (\(flags.map(\.text).joined(separator: " ")))".utf8)
        case .exists(let n): out += Array("\(n) EXISTS".utf8)
        case .recent(let n): out += Array("\(n) RECENT".utf8)
        case .expunge(let n): out += Array("\(n) EXPUNGE".utf8)
        case .list(let attributes, let delimiter, let name), .lsub(let attributes, let delimiter, let name):
            if case .lsub = data { out += Array("LSUB (".utf8) } else { out += Array("LIST (".utf8) }
            out += Array(attributes.joined(separator: " ").utf8)
            out += Array(") ".utf8)
            if let delimiter { string(Array(String(delimiter).utf8), into: &out) } else { out += Array("NIL".utf8) }
            out.append(0x20)
            string(name, into: &out)
        case .status(let name, let items):
            out += Array("STATUS ".utf8)
            astring(name, into: &out)
            out += Array(" (\(items.map { "\($0.attribute.rawValue) \($0.value)" }.joined(separator: " ")))".utf8)
        case .search(let numbers, let modSeq):
            out += Array("SEARCH".utf8)
            for n in numbers { out += Array(" \(n)".utf8) }
            if let modSeq { out += Array(" (MODSEQ \(modSeq))".utf8) }
        case .fetch(let number, let items):
            out += Array("\(number) FETCH (".utf8)
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(0x20) }
                encode(item, into: &out)
            }
            out.append(UInt8(ascii: ")"))
        case .namespace(let prefix, let delimiter):
            out += Array("NAMESPACE ((".utf8)
            string(Array(prefix.utf8), into: &out)
            out.append(0x20)
            string(Array(String(delimiter).utf8), into: &out)
            out += Array(")) NIL NIL".utf8)
        case .id(let fields):
            out += Array("ID ".utf8)
            guard let fields else {
                out += Array("NIL".utf8)
                return
            }
            out.append(UInt8(ascii: "("))
            for (i, field) in fields.enumerated() {
                if i > 0 { out.append(0x20) }
                string(Array(field.key.utf8), into: &out)
                out.append(0x20)
                nstring(field.value.map { Array($0.utf8) }, into: &out)
            }
            out.append(UInt8(ascii: ")"))
        case .enabled(let caps): out += Array((["ENABLED"] + caps).joined(separator: " ").utf8)
        case .quota(let root, let resources):
            out += Array("QUOTA ".utf8)
            astring(root, into: &out)
            out += Array(" (\(resources.map { "\($0.name) \($0.usage) \($0.limit)" }.joined(separator: " ")))".utf8)
        case .quotaRoot(let mailbox, let roots):
            out += Array("QUOTAROOT ".utf8)
            astring(mailbox, into: &out)
            for root in roots {
                out.append(0x20)
                astring(root, into: &out)
            }
        }
    }

    static func encode(_ item: FetchItem, into out: inout [UInt8]) {
        switch item {
        case .uid(let uid): out += Array("UID \(uid)".utf8)
        case .flags(let flags): out += Array("FLAGS (\(flags.map(\.text).joined(separator: " ")))".utf8)
        case .internalDate(let seconds, let zone): out += Array("INTERNALDATE \"\(dateTime(seconds, zoneMinutes: zone))\"".utf8)
        case .rfc822Size(let n): out += Array("RFC822.SIZE \(n)".utf8)
        case .envelope(let bytes): out += Array("ENVELOPE ".utf8) + bytes
        case .body(let bytes): out += Array("BODY ".utf8) + bytes
        case .bodyStructure(let bytes): out += Array("BODYSTRUCTURE ".utf8) + bytes
        case .modSeq(let n): out += Array("MODSEQ (\(n))".utf8)
        case .section(let name, let bytes):
            out += Array(sectionName(name).utf8)
            out.append(0x20)
            // Message bytes always as a literal: they may hold anything (RFC 3501 §4.3).
            if let bytes { literal(bytes, into: &out) } else { out += Array("NIL".utf8) }
        }
    }

    /// `BODY[1.2.HEADER.FIELDS (FROM TO)]<0>`, `RFC822.TEXT`…
    public static func sectionName(_ name: FetchSectionName) -> String {
        switch name {
        case .rfc822: return "RFC822"
        case .rfc822Header: return "RFC822.HEADER"
        case .rfc822Text: return "RFC822.TEXT"
        case .body(let spec, let origin):
            var parts = spec.part.map(String.init)
            switch spec.text {
            case .complete: break
            case .header: parts.append("HEADER")
            case .text: parts.append("TEXT")
            case .mime: parts.append("MIME")
            case .headerFields(let names): parts.append("HEADER.FIELDS (\(names.map(headerName).joined(separator: " ")))")
            case .headerFieldsNot(let names): parts.append("HEADER.FIELDS.NOT (\(names.map(headerName).joined(separator: " ")))")
            }
            return "BODY[\(parts.joined(separator: "."))]" + (origin.map { "<\($0)>" } ?? "")
        }
    }

    /// Header names in a section name: atoms as sent, quoted when they are not atoms.
    static func headerName(_ name: String) -> String {
        let bytes = Array(name.utf8)
        if !bytes.isEmpty, bytes.allSatisfy(IMAPChar.isAStringChar) { return name }
        var out: [UInt8] = []
        string(bytes, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Strings

    /// astring: an atom when every byte may be in one, else `string`.
    public static func astring(_ bytes: [UInt8], into out: inout [UInt8]) {
        if !bytes.isEmpty, bytes.allSatisfy(IMAPChar.isAStringChar),
           !(bytes.count == 3 && String(decoding: bytes, as: UTF8.self).uppercased() == "NIL") {
            out += bytes
        } else {
            string(bytes, into: &out)
        }
    }

    /// string: quoted for short 7-bit text, a literal otherwise.
    public static func string(_ bytes: [UInt8], into out: inout [UInt8]) {
        let quotable = bytes.count <= 1024 && bytes.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        guard quotable else { return literal(bytes, into: &out) }
        out.append(UInt8(ascii: "\""))
        for b in bytes {
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
            out.append(b)
        }
        out.append(UInt8(ascii: "\""))
    }

    public static func nstring(_ bytes: [UInt8]?, into out: inout [UInt8]) {
        guard let bytes else {
            out += Array("NIL".utf8)
            return
        }
        string(bytes, into: &out)
    }

    public static func literal(_ bytes: [UInt8], into out: inout [UInt8]) {
        out += Array("{\(bytes.count)}\r\n".utf8)
        out += bytes
    }

    // MARK: Dates

    /// RFC 3501 `date-time` content: `17-Jul-1996 02:44:25 -0700`.
    public static func dateTime(_ seconds: Int64, zoneMinutes: Int) -> String {
        let local = seconds + Int64(zoneMinutes * 60)
        var days = local / 86400
        var secondOfDay = local % 86400
        if secondOfDay < 0 {
            secondOfDay += 86400
            days -= 1
        }
        // Civil from days (Howard Hinnant's algorithm).
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let sign = zoneMinutes < 0 ? "-" : "+"
        let zone = abs(zoneMinutes)
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(two(day))-\(names[Int(month) - 1])-\(year) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) "
            + "\(sign)\(two(Int64(zone / 60)))\(two(Int64(zone % 60)))"
    }
}
