import Foundation
import Testing
@testable import MIME

/// Hostile shapes finish, stay within the limits, and still render. (Speed is for the
/// benchmarks; these inputs would take minutes or crash if anything were quadratic or recursive
/// without bound.)
@Suite struct HostileInputTests {
    @Test func fuzzFindingRFC2231KeyWithInvalidUTF8() throws {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Hostile/rfc2231-invalid-utf8-key.bin")
        let input = Array(try Data(contentsOf: url).dropFirst())
        let content = ContentHeaders.parse(contentType: input)
        #expect(content.type != nil)
        _ = ParsedMessage(input).bodyStructureBytes
    }

    @Test func deeplyNestedMultipartsStopAtTheNestingLimit() {
        var message = "Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
        for level in 1..<5_000 { message += "--b\(level - 1)\r\nContent-Type: multipart/mixed; boundary=b\(level)\r\n\r\n" }
        message += "--b4999\r\n\r\ntext\r\n"
        let parsed = ParsedMessage(Array(message.utf8))
        #expect(parsed.parts.map(\.depth).max()! <= MIMELimits.default.maxNestingDepth + 1)
        #expect(parsed.bodyStructureBytes.first == UInt8(ascii: "("))
    }

    @Test func nestedForwardedMessagesStopAtTheNestingLimit() {
        let message = String(repeating: "Content-Type: message/rfc822\r\n\r\n", count: 3_000) + "Subject: core\r\n\r\nbody\r\n"
        let parsed = ParsedMessage(Array(message.utf8))
        #expect(parsed.parts.count <= MIMELimits.default.maxNestingDepth + 2)
        #expect(!parsed.envelopeBytes.isEmpty && !parsed.bodyStructureBytes.isEmpty)
    }

    @Test func partCountIsBounded() {
        var message = "Content-Type: multipart/mixed; boundary=x\r\n\r\n"
        message += String(repeating: "--x\r\n\r\na\r\n", count: 20_000) + "--x--\r\n"
        let parsed = ParsedMessage(Array(message.utf8))
        #expect(parsed.parts.count <= MIMELimits.default.maxParts)
        #expect(parsed.size == message.utf8.count)
    }

    @Test func hugeHeaderLinesAndManyFields() {
        let long = "Subject: " + String(repeating: "=?utf-8?q?a?= ", count: 200_000) + "\r\n"
        let fields = String(repeating: "X-A: b\r\n", count: 50_000)
        let parsed = ParsedMessage(Array((long + fields + "\r\nbody").utf8))
        #expect(parsed.header.count <= MIMELimits.default.maxHeaderFields)
        // Past 64 KiB a value is kept as text rather than searched for encoded-words.
        #expect(parsed.header.first!.decodedValue.hasPrefix("=?utf-8?q?a?= "))
        let moderate = HeaderField(name: Array("Subject".utf8), value: Array(String(repeating: "=?utf-8?q?a?= ", count: 3_000).utf8), range: 0..<0)
        #expect(moderate.decodedValue == String(repeating: "a", count: 3_000) + " ")
        // Unterminated words are not rescanned byte by byte.
        let unterminated = HeaderField(name: Array("Subject".utf8), value: Array(String(repeating: "=?x?b?A", count: 9_000).utf8), range: 0..<0)
        #expect(unterminated.decodedValue.count == 63_000)
        let search = SearchText(message: parsed)
        #expect(search.body == "body")
    }

    @Test func addressesAreBoundedPerMessage() {
        let groups = "To: g:" + String(repeating: ",", count: 200_000) + ";\r\n"
        let many = String(repeating: "Cc: a@b, c@d\r\n", count: 20_000)
        let parsed = ParsedMessage(Array((groups + many + "\r\n").utf8))
        let envelope = parsed.envelope
        #expect((envelope.to?.count ?? 0) + (envelope.cc?.count ?? 0) <= MIMELimits.default.maxAddresses)
    }

    @Test func manyOpenBoundariesWithSharedPrefixes() {
        var message = "Content-Type: multipart/mixed; boundary=a\r\n\r\n"
        var boundary = "a"
        for _ in 0..<90 {
            message += "--\(boundary)\r\nContent-Type: multipart/mixed; boundary=\(boundary)a\r\n\r\n"
            boundary += "a"
        }
        message += String(repeating: "--a\r\n--aa\r\n", count: 2_000)
        let parsed = ParsedMessage(Array(message.utf8))
        #expect(parsed.size == message.utf8.count)
    }

    @Test(arguments: [[0], [UInt32.max], [1, 0], [1, 2, 3, 4, 5], [2, 99_999_999]])
    func sectionNumbersFromClientsNeverTrap(_ path: [UInt32]) {
        let parsed = ParsedMessage(Array("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\na\r\n--x--\r\n".utf8))
        let section = Section(path: path.map { Int($0) }, text: .mime)
        #expect(parsed.structure.locate(section) == .empty || path == [1])
    }

    @Test func garbageNeverTraps() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("-\r\n:;=\"\\()<>@,. \tab=?Q?B?*'%0123456789\u{0}\u{FF}".utf8)
        for _ in 0..<300 {
            let length = Int.random(in: 0..<3000, using: &generator)
            var bytes = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            if Bool.random(using: &generator) { bytes = Array("Content-Type: multipart/x; boundary=a\r\n\r\n--a\r\n".utf8) + bytes }
            let parsed = ParsedMessage(bytes)
            _ = parsed.envelopeBytes
            _ = parsed.bodyStructureBytes
            _ = SearchText(message: parsed)
        }
    }
}

@Suite struct MIMEDecodingTests {
    @Test func encodedWordsAcrossCharsetsAndSplitCharacters() {
        #expect(EncodedWords.decode(Array("=?gb2312?B?1tDOxA==?= mail".utf8)) == "中文 mail")
        // One UTF-8 character split across two adjacent words, whitespace between them dropped.
        #expect(EncodedWords.decode(Array("=?UTF-8?B?5Lit?= =?UTF-8?B?5paH?=".utf8)) == "中文")
        #expect(EncodedWords.decode(Array("=?iso-8859-1?q?caf=E9_au_lait?=".utf8)) == "café au lait")
        #expect(EncodedWords.decode(Array("a =?bogus".utf8)) == "a =?bogus")
        #expect(EncodedWords.decode(Array("=?x-unknown?q?plain?=".utf8)) == "plain")
    }

    @Test func rfc2231ContinuationsAreJoinedThenDecoded() {
        let content = ContentHeaders.parse(contentType: Array("application/pdf; name*0*=utf-8''%E4%B8%AD; name*1*=%E6%96%87.pdf".utf8))
        #expect(content.parameters.map(\.nameString) == ["name*"])
        #expect(content.filename == "中文.pdf")
        #expect(content.mimeType == "application/pdf")
    }

    @Test func sectionsAndHeaderFields() throws {
        let raw = Array("""
            Subject: outer\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nfirst\r\n\
            --x\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: a@b\r\n\r\ninner body\r\n--x--\r\n
            """.utf8)
        let parsed = ParsedMessage(raw)
        let structure = parsed.structure
        func text(_ section: Section) -> String {
            switch structure.locate(section) {
            case .bytes(let range): return String(decoding: raw[range], as: UTF8.self)
            case .filteredHeader(let range, let names, let exclude):
                return String(decoding: HeaderFieldFilter.filter(Array(raw[range]), names: names, exclude: exclude), as: UTF8.self)
            case .empty: return "<empty>"
            }
        }
        #expect(text(Section(path: [1])) == "first")
        #expect(text(Section(path: [1], text: .mime)) == "Content-Type: text/plain\r\n\r\n")
        #expect(text(Section(path: [2], text: .header)) == "Subject: inner\r\nFrom: a@b\r\n\r\n")
        #expect(text(Section(path: [2], text: .text)) == "inner body")
        #expect(text(Section(path: [2, 1])) == "inner body")
        #expect(text(Section(text: .headerFields(["SUBJECT"]))) == "Subject: outer\r\n\r\n")
        #expect(text(Section(text: .headerFieldsNot(["subject"]))) == "Content-Type: multipart/mixed; boundary=x\r\n\r\n")
        #expect(text(Section(path: [3])) == "<empty>")
        #expect(text(Section(path: [1], text: .header)) == "<empty>")
        // The stored form round-trips.
        let decoded = try JSONDecoder().decode(MessageStructure.self, from: JSONEncoder().encode(structure))
        #expect(decoded == structure)
        // The text the node stores (made without JSONEncoder) is the same JSON.
        #expect(try JSONDecoder().decode(MessageStructure.self, from: Data(structure.jsonText.utf8)) == structure)
        #expect(structure.jsonText == String(decoding: try JSONEncoder().encode(structure), as: UTF8.self))
    }

    @Test func transferDecodingAndSearchText() {
        let raw = Array("""
            Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSch=F6n=\r\n zu sehen\r\n\
            --b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+5Lit5paHPC9iPg==\r\n--b--\r\n
            """.utf8)
        let search = SearchText(message: ParsedMessage(raw))
        #expect(search.headers.contains("Subject: Grüße"))
        #expect(search.body.contains("Schön zu sehen"))
        #expect(search.body.contains("<b>中文</b>"))
        #expect(DateHeader.day(Array("Mon, 7 Feb 94 21:52:25 -0800 (PST)".utf8))! == (1994, 2, 7))
        #expect(DateHeader.day(Array("garbage".utf8)) == nil)
    }
}
