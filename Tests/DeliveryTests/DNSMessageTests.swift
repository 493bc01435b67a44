@testable import Delivery
import Testing

/// DNS messages: the queries sent, and the parser fed real-shaped and hostile answers.
@Suite struct DNSMessageTests {
    /// A response to `question` with the given answer records (already encoded).
    static func response(id: UInt16 = 7, rcode: UInt8 = 0, truncated: Bool = false, question: [UInt8],
                         answers: [[UInt8]]) -> [UInt8] {
        var flags: UInt16 = 0x8180 | UInt16(rcode)
        if truncated { flags |= 0x0200 }
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(flags >> 8), UInt8(flags & 0xFF), 0, 1,
                            0, UInt8(answers.count), 0, 0, 0, 0]
        out += question
        for answer in answers { out += answer }
        return out
    }

    /// A record whose owner is a pointer to the question name (offset 12).
    static func record(type: UInt16, rdata: [UInt8]) -> [UInt8] {
        [0xC0, 12, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1, 0, 0, 0x0E, 0x10, UInt8(rdata.count >> 8), UInt8(rdata.count & 0xFF)] + rdata
    }

    static let question = try! DNSMessage.encodeName("example.org") + [0, 15, 0, 1]

    @Test func queryIsAStandardRecursiveQuestion() throws {
        let query = try DNSMessage.query(id: 0x1234, name: "Mail.Example.org.", type: .mx)
        #expect(query == [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                          4] + Array("Mail".utf8) + [7] + Array("Example".utf8) + [3] + Array("org".utf8) + [0, 0, 15, 0, 1])
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: "a..b", type: .a) }
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: String(repeating: "x", count: 64) + ".org", type: .a) }
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: "bad name.org", type: .a) }
        let long = Array(repeating: String(repeating: "x", count: 60), count: 5).joined(separator: ".")
        #expect(throws: DNSMessageError.self) { try DNSMessage.query(id: 1, name: long, type: .a) }
    }

    @Test func mxAnswersWithCompressedNames() throws {
        // mx1.example.org as "mx1" + pointer to the question's "example.org".
        let mx1 = Self.record(type: 15, rdata: [0, 10, 3] + Array("mx1".utf8) + [0xC0, 12])
        let mx2 = Self.record(type: 15, rdata: [0, 20, 3] + Array("MX2".utf8) + [0xC0, 12])
        let a = Self.record(type: 1, rdata: [127, 0, 0, 2])
        let aaaa = Self.record(type: 28, rdata: [0x20, 0x01, 0x0d, 0xb8] + Array(repeating: 0, count: 11) + [1])
        let txt = Self.record(type: 16, rdata: [3, 0x61, 0x62, 0x63])
        let parsed = try DNSMessage.parse(Self.response(question: Self.question, answers: [mx1, mx2, a, aaaa, txt]))
        #expect(parsed.id == 7 && parsed.responseCode == 0 && !parsed.truncated)
        #expect(parsed.answers.map(\.data) == [.mx(preference: 10, exchange: "mx1.example.org"),
                                               .mx(preference: 20, exchange: "mx2.example.org"),
                                               .a("127.0.0.2"), .aaaa("2001:db8::1"), .other(type: 16)])
        #expect(parsed.answers[0].name == "example.org" && parsed.answers[0].ttl == 3600)
        // RFC 7505 null MX: preference 0, exchange the root.
        let null = try DNSMessage.parse(Self.response(question: Self.question, answers: [Self.record(type: 15, rdata: [0, 0, 0])]))
        #expect(null.answers.map(\.data) == [.mx(preference: 0, exchange: "")])
        let nx = try DNSMessage.parse(Self.response(rcode: 3, truncated: true, question: Self.question, answers: []))
        #expect(nx.responseCode == 3 && nx.truncated && nx.answers.isEmpty)
    }

    @Test func hostileAnswersAreErrorsNotCrashes() throws {
        let good = Self.response(question: Self.question, answers: [Self.record(type: 15, rdata: [0, 10, 3] + Array("mx1".utf8) + [0xC0, 12])])
        // Every truncation of a good answer is an error or a shorter answer, never a crash.
        for length in 0..<good.count {
            _ = try? DNSMessage.parse(Array(good.prefix(length)))
        }
        // A pointer to itself, and one pointing forwards: loops are refused.
        let selfPointer = Self.response(question: [0xC0, 12, 0, 15, 0, 1], answers: [])
        #expect(throws: DNSMessageError.self) { try DNSMessage.parse(selfPointer) }
        let forward = Self.response(question: [0xC0, 14, 0, 15, 0, 1, 0], answers: [])
        #expect(throws: DNSMessageError.self) { try DNSMessage.parse(forward) }
        // A name of more than 255 octets through labels.
        let label: [UInt8] = [63] + Array(repeating: UInt8(ascii: "a"), count: 63)
        let long: [UInt8] = Array(Array(repeating: label, count: 5).joined()) + [0]
        #expect(throws: DNSMessageError.self) { try DNSMessage.parse(Self.response(question: long + [0, 15, 0, 1], answers: [])) }
        // A record claiming more data than there is; an A record of 5 octets; a query, not a response.
        var overlong = good
        overlong[overlong.count - 10] = 0xFF   // RDLENGTH high octet
        #expect(throws: DNSMessageError.self) { try DNSMessage.parse(overlong) }
        #expect(throws: DNSMessageError.self) {
            try DNSMessage.parse(Self.response(question: Self.question, answers: [Self.record(type: 1, rdata: [1, 2, 3, 4, 5])]))
        }
        #expect(throws: DNSMessageError.self) { try DNSMessage.parse(try DNSMessage.query(id: 1, name: "x.org", type: .mx)) }
        // 65,535 answers announced, none there.
        var many = Self.response(question: Self.question, answers: [])
        many[6] = 0xFF; many[7] = 0xFF
        #expect(throws: DNSMessageError.self) { try DNSMessage.parse(many) }
    }

    @Test func ipv6TextIsRFC5952() {
        func text(_ groups: [UInt16]) -> String { DNSMessage.ipv6Text(groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }) }
        #expect(text([0, 0, 0, 0, 0, 0, 0, 1]) == "::1")
        #expect(text([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]) == "2001:db8::1:0:0:1")
        #expect(text([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]) == "2001:db8:0:1:1:1:1:1")
        #expect(text([0, 0, 0, 0, 0, 0, 0, 0]) == "::")
    }
}
