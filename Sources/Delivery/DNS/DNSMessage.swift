/// DNS messages (RFC 1035 §4): the queries the MX router sends and a bounded parser for the
/// answers. Only what mail routing needs: MX, A, AAAA and CNAME records; everything else in an
/// answer is skipped by its length. The parser never trusts a length or a pointer: names are
/// at most 255 octets in at most 127 labels, compression pointers must point backwards (so
/// they cannot loop), and every read is checked against the end of the message.
public enum DNSRecordType: UInt16, Sendable {
    case a = 1
    case cname = 5
    case mx = 15
    case aaaa = 28
}

/// One resource record of an answer.
public struct DNSRecord: Sendable, Equatable {
    public enum Data: Sendable, Equatable {
        case a(String)
        case aaaa(String)
        case mx(preference: UInt16, exchange: String)
        case cname(String)
        case other(type: UInt16)
    }

    /// Lower-cased, without the trailing dot; "" is the root.
    public var name: String
    public var ttl: UInt32
    public var data: Data
}

/// A parsed response.
public struct DNSResponse: Sendable, Equatable {
    public var id: UInt16
    /// RCODE (RFC 1035 §4.1.1): 0 no error, 2 server failure, 3 name error (NXDOMAIN).
    public var responseCode: UInt8
    /// TC: the answer did not fit into UDP; ask again over TCP.
    public var truncated: Bool
    public var answers: [DNSRecord]
}

public struct DNSMessageError: Error, Equatable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

public enum DNSMessage {
    public static let maximumNameLength = 255
    /// Answers beyond this many records are ignored (a real MX set is a handful).
    public static let maximumRecords = 256

    /// A recursive query (RD set) for one name and type. `name` must be an ASCII host name
    /// (A-labels for IDN).
    public static func query(id: UInt16, name: String, type: DNSRecordType) throws -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        out += try encodeName(name)
        out += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1]   // class IN
        return out
    }

    static func encodeName(_ name: String) throws -> [UInt8] {
        var trimmed = Substring(name)
        if trimmed.hasSuffix(".") { trimmed = trimmed.dropLast() }
        var out: [UInt8] = []
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                let bytes = Array(label.utf8)
                guard !bytes.isEmpty, bytes.count <= 63, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                    throw DNSMessageError("not a valid host name: \(name)")
                }
                out.append(UInt8(bytes.count))
                out += bytes
            }
        }
        out.append(0)
        guard out.count <= maximumNameLength else { throw DNSMessageError("name too long: \(name)") }
        return out
    }

    /// Parses a response to query `id`.
    public static func parse(_ bytes: [UInt8]) throws -> DNSResponse {
        var reader = Reader(bytes: bytes)
        let id = try reader.u16()
        let flags = try reader.u16()
        guard flags & 0x8000 != 0 else { throw DNSMessageError("not a response") }
        let questions = Int(try reader.u16())
        let answers = Int(try reader.u16())
        _ = try reader.u16()   // authority
        _ = try reader.u16()   // additional
        for _ in 0..<questions {
            _ = try reader.name()
            try reader.skip(4)
        }
        var records: [DNSRecord] = []
        for _ in 0..<min(answers, maximumRecords) {
            let name = try reader.name()
            let type = try reader.u16()
            let rrClass = try reader.u16()
            let ttl = try reader.u32()
            let length = Int(try reader.u16())
            let end = reader.offset + length
            guard end <= bytes.count else { throw DNSMessageError("record runs past the end") }
            defer { reader.offset = end }
            guard rrClass == 1 else { continue }
            let data: DNSRecord.Data
            switch DNSRecordType(rawValue: type) {
            case .a:
                guard length == 4 else { throw DNSMessageError("A record of \(length) octets") }
                data = .a(bytes[reader.offset..<end].map(String.init).joined(separator: "."))
            case .aaaa:
                guard length == 16 else { throw DNSMessageError("AAAA record of \(length) octets") }
                data = .aaaa(ipv6Text(Array(bytes[reader.offset..<end])))
            case .mx:
                let preference = try reader.u16()
                data = .mx(preference: preference, exchange: try reader.name())
                guard reader.offset <= end else { throw DNSMessageError("MX record longer than its length") }
            case .cname:
                data = .cname(try reader.name())
            case nil:
                data = .other(type: type)
            }
            records.append(DNSRecord(name: name, ttl: ttl, data: data))
        }
        return DNSResponse(id: id, responseCode: UInt8(flags & 0x0F), truncated: flags & 0x0200 != 0, answers: records)
    }

    /// RFC 5952 text: lower case, leading zeros dropped, the longest run of two or more zero
    /// groups shortened to "::".
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 0)
        var run = (start: -1, length: 0)
        for (i, group) in groups.enumerated() {
            if group == 0 {
                run = run.start < 0 ? (i, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        let head = hex[..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u16() throws -> UInt16 {
            guard offset + 2 <= bytes.count else { throw DNSMessageError("message ends early") }
            defer { offset += 2 }
            return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
        }

        mutating func u32() throws -> UInt32 {
            UInt32(try u16()) << 16 | UInt32(try u16())
        }

        mutating func skip(_ n: Int) throws {
            guard offset + n <= bytes.count else { throw DNSMessageError("message ends early") }
            offset += n
        }

        /// A possibly compressed name (RFC 1035 §4.1.4), lower-cased, without the final dot.
        mutating func name() throws -> String {
            var labels: [String] = []
            var length = 1
            var position = offset
            var jumped = false
            var lowestTarget = offset
            while true {
                guard position < bytes.count else { throw DNSMessageError("name runs past the end") }
                let count = Int(bytes[position])
                switch count & 0xC0 {
                case 0:
                    if count == 0 {
                        if !jumped { offset = position + 1 }
                        return labels.joined(separator: ".")
                    }
                    guard position + 1 + count <= bytes.count else { throw DNSMessageError("label runs past the end") }
                    length += count + 1
                    guard length <= DNSMessage.maximumNameLength else { throw DNSMessageError("name longer than 255 octets") }
                    labels.append(String(decoding: bytes[(position + 1)...(position + count)], as: UTF8.self).lowercased())
                    position += 1 + count
                case 0xC0:
                    guard position + 1 < bytes.count else { throw DNSMessageError("pointer runs past the end") }
                    let target = (count & 0x3F) << 8 | Int(bytes[position + 1])
                    // Only backwards, and each jump further back than the last: no loops.
                    guard target < lowestTarget else { throw DNSMessageError("compression pointer does not point back") }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    lowestTarget = target
                    position = target
                default:
                    throw DNSMessageError("unknown label type")
                }
            }
        }
    }
}
