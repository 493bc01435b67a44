import Foundation
import Testing

/// ENVELOPE, BODY, BODYSTRUCTURE and RFC822.SIZE over the wire equal Dovecot's for every message
/// of the MIME corpus (Tests/MIMETests/Corpus, recorded from Dovecot 2.3.19.1): each message is
/// delivered as mail arrives (CR LF lines; one has NUL bytes, which APPEND may not carry), then
/// fetched back over IMAP.
@Suite(.timeLimit(.minutes(2))) struct IMAPCorpusTests {
    struct Oracle: Decodable {
        var envelope: String
        var bodystructure: String
        var body: String
        var rfc822size: Int
    }

    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("MIMETests/Corpus")

    /// JSON strings hold the bytes as latin-1 code points.
    static func text(_ latin1: String) -> String { String(decoding: latin1.unicodeScalars.map { UInt8($0.value) }, as: UTF8.self) }

    /// CR LF line ends, as a client sends a message in APPEND and as Dovecot counts its size.
    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, b) in bytes.enumerated() {
            if b == 0x0A && (i == 0 || bytes[i - 1] != 0x0D) { out.append(0x0D) }
            out.append(b)
        }
        return out
    }

    @Test func fetchedStructuresEqualDovecots() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(".eml") }.sorted()
        #expect(names.count >= 60)
        try await IMAPTestNode.run { node in
            let c = try await node.client()
            var number = 0
            for name in names {
                let raw = Self.crlf(try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent(name))))
                let oracle = try JSONDecoder().decode(Oracle.self, from: Data(contentsOf: Self.corpus.appendingPathComponent(
                    name.replacingOccurrences(of: ".eml", with: ".dovecot.json"))))
                try await node.deliver(bytes: raw)
                number += 1
                if number == 1 { _ = try await c.command("SELECT INBOX") } else { _ = try await c.command("NOOP") }
                for (item, expected) in [("ENVELOPE", oracle.envelope), ("BODY", oracle.body), ("BODYSTRUCTURE", oracle.bodystructure)] {
                    let fetched = try await c.command("FETCH \(number) (\(item))")
                    let prefix = "* \(number) FETCH (\(item) "
                    let line = fetched.untagged.first { $0.hasPrefix(prefix) } ?? ""
                    #expect(String(line.dropFirst(prefix.count).dropLast()) == Self.text(expected), "\(item) of \(name)")
                }
                let size = try await c.command("FETCH \(number) (RFC822.SIZE)")
                #expect(size.untagged.first == "* \(number) FETCH (RFC822.SIZE \(oracle.rfc822size))", "RFC822.SIZE of \(name)")
            }
        }
    }
}
