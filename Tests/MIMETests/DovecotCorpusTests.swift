import Foundation
import Testing
@testable import MIME

/// Petrel's ENVELOPE, BODY and BODYSTRUCTURE must equal Dovecot's byte for byte for every
/// message of the corpus (recorded once by Corpus/record_dovecot.py from Dovecot 2.3.19.1).
@Suite("MIME corpus against Dovecot")
struct DovecotCorpusTests {
    struct Oracle: Decodable {
        var envelope: String
        var bodystructure: String
        var body: String
        var rfc822size: Int
    }

    static let corpus: URL = Bundle.module.resourceURL!.appendingPathComponent("Corpus")

    static func messageNames() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path)) ?? []
        return names.filter { $0.hasSuffix(".eml") }.sorted()
    }

    /// JSON strings hold the bytes as latin-1 code points.
    static func bytes(_ latin1: String) -> [UInt8] { latin1.unicodeScalars.map { UInt8($0.value) } }

    @Test("the corpus is there")
    func corpusIsPresent() {
        #expect(Self.messageNames().count >= 60)
    }

    @Test("matches Dovecot", arguments: messageNames())
    func matchesDovecot(_ name: String) throws {
        let raw = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent(name)))
        let oracleURL = Self.corpus.appendingPathComponent(name.replacingOccurrences(of: ".eml", with: ".dovecot.json"))
        let oracle = try JSONDecoder().decode(Oracle.self, from: Data(contentsOf: oracleURL))
        // Parsed as received and as Petrel stores it (CR LF lines): both must agree with Dovecot.
        for input in [raw, ParsedMessage.canonicalLineEndings(raw)] {
            let message = ParsedMessage(input)
            #expect(String(decoding: message.envelopeBytes, as: UTF8.self) == String(decoding: Self.bytes(oracle.envelope), as: UTF8.self),
                    "ENVELOPE of \(name)")
            #expect(message.envelopeBytes == Self.bytes(oracle.envelope), "ENVELOPE bytes of \(name)")
            #expect(message.bodyStructureBytes == Self.bytes(oracle.bodystructure),
                    "BODYSTRUCTURE of \(name): \(String(decoding: message.bodyStructureBytes, as: UTF8.self))")
            #expect(message.bodyBytes == Self.bytes(oracle.body), "BODY of \(name)")
            #expect(message.size == oracle.rfc822size, "RFC822.SIZE of \(name)")
        }
    }
}
