import Crypto
@testable import Delivery
import Foundation
import Testing
import _CryptoExtras

/// DKIM signing's pure parts: relaxed canonicalization (RFC 6376's own example), the split of a
/// message into fields, field selection and oversigning, keys and their DNS records, and
/// signatures that verify with the public key. The outside verifier (dkimpy) is in the interop
/// suite (test_dkim.py).
@Suite struct DKIMTests {
    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static func sha256(_ s: String) -> SHA256.Digest { SHA256.hash(data: bytes(s)) }

    @Test func rfc6376SectionThreeFourFiveExample() {
        // §3.4.5: "A: X", "B : Y<HTAB><CRLF><HTAB>Z  " and the body " C <CRLF>D <HTAB> E<CRLF><CRLF><CRLF>".
        let message = Self.bytes("A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n")
        let parsed = DKIMHeaderFields(message)
        #expect(parsed.fields.map(\.name) == ["a", "b"])
        #expect(parsed.fields.map { DKIMCanonicalization.relaxedHeader($0.raw) } == [Self.bytes("a:X\r\n"), Self.bytes("b:Y Z\r\n")])
        #expect(DKIMCanonicalization.relaxedBodyHash(parsed.body) == Self.sha256(" C\r\nD E\r\n"))
    }

    @Test func relaxedBodyEdgeCases() {
        let cases: [(String, String)] = [
            ("", ""),                                   // an empty body stays empty
            ("\r\n\r\n\r\n", ""),                       // only empty lines: empty
            (" \t \r\n\t\r\n", ""),                     // whitespace-only lines are empty lines
            ("abc", "abc\r\n"),                         // a last line without CRLF gets one
            ("a\r\n\r\nb \r\n\r\n", "a\r\n\r\nb\r\n"),  // inner empty lines stay, trailing ones go
            ("x\ty  z\t\r\n", "x y z\r\n"),
            ("bare\nlf\r\n", "bare\nlf\r\n"),           // a bare LF is content
            ("caf\u{E9} \u{FC}ber\r\n", "caf\u{E9} \u{FC}ber\r\n"),   // 8-bit octets pass through
        ]
        for (body, canonical) in cases {
            #expect(DKIMCanonicalization.relaxedBodyHash(ArraySlice(Self.bytes(body))) == Self.sha256(canonical), "\(body.debugDescription)")
        }
    }

    @Test func relaxedHeaderEdgeCases() {
        let cases: [(String, String)] = [
            ("Subject:   hello   world   ", "subject:hello world\r\n"),
            ("SUBJECT \t:\tx", "subject:x\r\n"),
            ("Subject: folded\r\n\tover\r\n  three lines", "subject:folded over three lines\r\n"),
            ("X-Empty:", "x-empty:\r\n"),
            ("Subject: caf\u{E9}", "subject:caf\u{E9}\r\n"),
            // A colon inside the value is not the separator: WSP after it stays (as one SP).
            ("h: from:\r\n\tto: \t cc", "h:from: to: cc\r\n"),
        ]
        for (field, canonical) in cases {
            #expect(DKIMCanonicalization.relaxedHeader(ArraySlice(Self.bytes(field))) == Self.bytes(canonical), "\(field.debugDescription)")
        }
    }

    @Test func fieldsAreSplitAndSelectedBottomUp() {
        let message = Self.bytes("Received: one\r\n\tcontinued\r\nTo: a@x.test\r\nnot a field\r\nTo: b@x.test\r\nFrom: f@x.test\r\n\r\nbody\r\n")
        let parsed = DKIMHeaderFields(message)
        #expect(parsed.fields.map(\.name) == ["received", "to", "to", "from"])
        #expect(String(decoding: parsed.fields[0].raw, as: UTF8.self) == "Received: one\r\n\tcontinued")
        #expect(Array(parsed.body) == Self.bytes("body\r\n"))
        // §5.4.2: the last instance first; a name listed once more than it occurs selects nothing.
        let selected = parsed.selected(["to", "to", "to", "from", "from"]).map { String(decoding: $0, as: UTF8.self) }
        #expect(selected == ["To: b@x.test", "To: a@x.test", "From: f@x.test"])
        // No empty line: all header; an empty header section: all body.
        #expect(DKIMHeaderFields(Self.bytes("From: a\r\nSubject: b")).fields.map(\.name) == ["from", "subject"])
        #expect(DKIMHeaderFields(Self.bytes("\r\nonly body")).fields.isEmpty)
        #expect(Array(DKIMHeaderFields(Self.bytes("\r\nonly body")).body) == Self.bytes("only body"))
    }

    static let message = Self.bytes("""
        Received: from client.test by mx.test; Mon, 23 Nov 2026 10:00:00 +0000\r
        From: Ann <ann@example.test>\r
        To: bob@peer.test,\r
        \tcarol@peer.test\r
        Subject: =?utf-8?q?caf=C3=A9?=\r
        Date: Mon, 23 Nov 2026 10:00:00 +0000\r
        Message-ID: <1@example.test>\r
        \r
        Caf\u{E9}  au lait \r
        \r
        \r

        """)

    /// Removes the b= value from a DKIM-Signature field as a verifier does (§3.7).
    static func withoutSignature(_ field: String) -> (field: String, signature: [UInt8]) {
        let range = field.range(of: "b=", options: .backwards)!
        let value = field[range.upperBound...].filter { !$0.isWhitespace }
        return (String(field[..<range.upperBound]), Array(Data(base64Encoded: String(value)) ?? Data()))
    }

    @Test(arguments: DKIMPrivateKey.Algorithm.allCases)
    func signatureVerifiesWithThePublicKey(algorithm: DKIMPrivateKey.Algorithm) throws {
        let key = try DKIMPrivateKey.generate(algorithm)
        let time = Date(timeIntervalSince1970: 1_795_000_000)
        let fields = try DKIMSigner().signatureFields(
            for: Self.message, keys: [.init(domain: "example.test", selector: "s1", privateKey: key)], time: time)
        let text = String(decoding: fields, as: UTF8.self)
        #expect(text.replacingOccurrences(of: "\r\n\t", with: " ").hasPrefix(
            "DKIM-Signature: v=1; a=\(algorithm.rawValue); c=relaxed/relaxed; d=example.test; s=s1;"))
        #expect(text.hasSuffix("\r\n"))
        #expect(text.split(separator: "\r\n").allSatisfy { $0.utf8.count <= 78 })
        #expect(text.contains("t=1795000000;"))
        let joined = text.replacingOccurrences(of: "\r\n\t", with: "")
        let h = joined.firstMatch(of: /h=([^;]*);/).map { String($0.1) } ?? ""
        // Signed as present, From, To, Cc, Subject, Date and Reply-To once more (oversigned).
        #expect(h == "from:from:reply-to:subject:subject:date:date:message-id:to:to:cc")
        #expect(joined.contains("bh=\(Data(Self.sha256("Caf\u{E9} au lait\r\n")).base64EncodedString());"))

        // Verify as RFC 6376 §3.7 does: the selected fields, then this field without b='s value.
        let (unsigned, signature) = Self.withoutSignature(String(decoding: fields.dropLast(2), as: UTF8.self))
        let parsed = DKIMHeaderFields(Self.message)
        var data: [UInt8] = []
        for field in parsed.selected(h.split(separator: ":").map(String.init)) {
            data += DKIMCanonicalization.relaxedHeader(field)
        }
        data += DKIMCanonicalization.relaxedHeader(ArraySlice(unsigned.utf8)).dropLast(2)
        switch key.backing {
        case .rsa(let rsa):
            let valid = rsa.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature),
                                                       for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5)
            #expect(valid)
            #expect(signature.count == 256)
        case .ed25519(let ed):
            #expect(ed.publicKey.isValidSignature(signature, for: Array(SHA256.hash(data: data))))
        }
        // A changed signed field no longer verifies with the same signature.
        var tampered = data
        tampered[tampered.firstIndex(of: UInt8(ascii: "@"))!] = UInt8(ascii: "#")
        if case .ed25519(let ed) = key.backing {
            #expect(!ed.publicKey.isValidSignature(signature, for: Array(SHA256.hash(data: tampered))))
        }
    }

    @Test func twoKeysGiveTwoIndependentSignatures() throws {
        let keys = try DKIMPrivateKey.Algorithm.allCases.map {
            DKIMSigner.Key(domain: "example.test", selector: $0.keyType, privateKey: try DKIMPrivateKey.generate($0))
        }
        let text = String(decoding: try DKIMSigner().signatureFields(for: Self.message, keys: keys), as: UTF8.self)
        #expect(text.components(separatedBy: "DKIM-Signature:").count == 3)
        #expect(text.contains("a=rsa-sha256;") && text.contains("a=ed25519-sha256;"))
    }

    @Test func aMessageWithoutFromIsNotSigned() throws {
        let key = DKIMSigner.Key(domain: "example.test", selector: "s", privateKey: try DKIMPrivateKey.generate(.ed25519SHA256))
        #expect(throws: DKIMSigner.SigningError.self) {
            try DKIMSigner().signatureFields(for: Self.bytes("Subject: x\r\n\r\nbody\r\n"), keys: [key])
        }
        #expect(throws: DKIMSigner.SigningError.self) {
            try DKIMSigner().signatureFields(for: Self.bytes("garbage without any structure"), keys: [key])
        }
    }

    @Test(arguments: DKIMPrivateKey.Algorithm.allCases)
    func keysSurviveTheirPEMAndPublishTheirRecord(algorithm: DKIMPrivateKey.Algorithm) throws {
        let key = try DKIMPrivateKey.generate(algorithm)
        let again = try DKIMPrivateKey(algorithm: algorithm, pem: key.pemRepresentation)
        #expect(again.publicKeyBase64 == key.publicKeyBase64)
        #expect(key.dnsRecord == "v=DKIM1; k=\(algorithm.keyType); p=\(key.publicKeyBase64)")
        switch algorithm {
        case .rsaSHA256:
            #expect(key.keySizeInBits == 2048)
            #expect(key.pemRepresentation.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
            // The SubjectPublicKeyInfo of a 2048-bit key: 294 octets.
            #expect(Data(base64Encoded: key.publicKeyBase64)?.count == 294)
        case .ed25519SHA256:
            #expect(key.pemRepresentation.hasPrefix("-----BEGIN PRIVATE KEY-----"))
            #expect(Data(base64Encoded: key.publicKeyBase64)?.count == 32)
        }
        // The other algorithm's PEM, or junk, is refused.
        let other: DKIMPrivateKey.Algorithm = algorithm == .rsaSHA256 ? .ed25519SHA256 : .rsaSHA256
        #expect(throws: (any Error).self) { try DKIMPrivateKey(algorithm: other, pem: key.pemRepresentation) }
        #expect(throws: (any Error).self) { try DKIMPrivateKey(algorithm: algorithm, pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
    }

    @Test func manyInstancesOfAFieldAreSignedUpToTheCap() throws {
        let key = try DKIMPrivateKey.generate(.ed25519SHA256)
        let message = Self.bytes("From: a@example.test\r\n" + String(repeating: "Cc: x@peer.test\r\n", count: 20_000)
                                 + "Subject: many\r\n\r\nbody\r\n")
        let fields = try DKIMSigner().signatureFields(
            for: message, keys: [.init(domain: "example.test", selector: "s", privateKey: key)])
        let joined = String(decoding: fields, as: UTF8.self).replacingOccurrences(of: "\r\n\t", with: "")
        let h = joined.firstMatch(of: /h=([^;]*);/).map { String($0.1) } ?? ""
        // The last 50 Cc fields, then one more (it selects the 51st from the bottom: still signed data).
        #expect(h.split(separator: ":").filter { $0 == "cc" }.count == DKIMSigner.maximumInstances + 1)
        #expect(fields.count < 2_000)
        let (unsigned, signature) = Self.withoutSignature(String(decoding: fields.dropLast(2), as: UTF8.self))
        var data: [UInt8] = []
        for field in DKIMHeaderFields(message).selected(h.split(separator: ":").map(String.init)) {
            data += DKIMCanonicalization.relaxedHeader(field)
        }
        data += DKIMCanonicalization.relaxedHeader(ArraySlice(unsigned.utf8)).dropLast(2)
        guard case .ed25519(let ed) = key.backing else { return }
        #expect(ed.publicKey.isValidSignature(signature, for: Array(SHA256.hash(data: data))))
    }
}
