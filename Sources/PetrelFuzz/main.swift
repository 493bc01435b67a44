// libFuzzer target for Petrel's parsers (selector byte modulo 15: 0–5 the small parsers, 6 the
// whole MIME pipeline, 7 header-value decoders, 8 SMTP command lines, 9 the SMTP DATA decoder,
// SASL PLAIN and IP networks, 10 IMAP commands through the framer and the parser, 11 POP3 command
// lines, 12 DNS responses, 13 DKIM signing of a message, 14 SCRAM-SHA-256 client messages and
// LDAP filter building). Built and run with `make fuzz` (docs/fuzzing.md):
//   swift build --scratch-path .build-fuzz --product petrel-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DPETREL_FUZZ
// The first input byte picks the parser; the rest is its input. Errors are expected and ignored:
// the fuzzer looks for crashes, hangs and runaway memory.
import MailAuth
import MailCore
import MailStore
import MIME
import Delivery
import IMAPServer
import POP3Server
import SMTPServer

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    switch bytes[0] % 15 {
    case 6:
        // Everything IMAP asks of a stored message: structure, envelope, BODY[STRUCTURE],
        // every section, search text.
        let message = ParsedMessage(Array(bytes.dropFirst()))
        _ = message.envelopeBytes
        _ = message.bodyStructureBytes
        _ = message.bodyBytes
        _ = SearchText(message: message)
        let structure = message.structure
        for index in message.parts.indices.prefix(16) {
            _ = structure.locate(Section(path: [index], text: .mime))
            _ = structure.locate(Section(path: [1, index], text: .header))
            if case .filteredHeader(let range, let names, let exclude) = structure.locate(Section(path: [], text: .headerFields(["subject", "from"]))) {
                _ = HeaderFieldFilter.filter(Array(message.raw[range]), names: names, exclude: exclude)
            }
        }
    case 7:
        let value = Array(bytes.dropFirst())
        _ = EncodedWords.decode(value)
        _ = HeaderField(name: Array("Subject".utf8), value: value, range: 0..<value.count).decodedValue
        _ = ContentHeaders.parse(contentType: value)
    case 8:
        for line in bytes.dropFirst().split(separator: UInt8(ascii: "\n")) {
            _ = try? SMTPCommandParser.parse(Array(line))
        }
    case 9:
        var decoder = DataDecoder(limit: 4096)
        var rest = Array(bytes.dropFirst())
        while !rest.isEmpty {
            let (consumed, finished) = decoder.feed(rest.prefix(7))
            precondition(consumed > 0 && consumed <= 7)
            rest.removeFirst(consumed)
            if finished { break }
        }
        precondition(decoder.body.count <= 4096)
        var exchange = SASLExchange(mechanism: .plain)
        _ = exchange.start(initialResponse: Array(bytes.dropFirst()))
        _ = try? IPNetwork(text)
    case 10:
        // Lines through the framer (literals taken from what follows), then the parser.
        var limits = IMAPCommandFramer.Limits()
        limits.maximumText = 4096
        limits.maximumLiteral = 1024
        limits.maximumAppendLiteral = 2048
        var framer = IMAPCommandFramer(limits: limits)
        var rest = Array(bytes.dropFirst())[...]
        while !rest.isEmpty {
            let line = rest.prefix { $0 != UInt8(ascii: "\n") }
            rest = rest.dropFirst(line.count + 1)
            switch framer.feed(line: Array(line.last == 0x0D ? line.dropLast() : line)) {
            case .complete(let command):
                precondition(command.count <= 4096 + 64 * 2048)
                _ = try? IMAPCommandParser.parse(command)
            case .needLiteral(let size, _):
                precondition(size <= 2048)
                framer.feed(literal: Array(rest.prefix(size)))
                rest = rest.dropFirst(size)
            case .refused(_, _, let discard):
                rest = rest.dropFirst(discard)
            }
        }
    case 11:
        for line in bytes.dropFirst().split(separator: UInt8(ascii: "\n")) where line.count <= POP3CommandParser.maximumLine {
            _ = try? POP3CommandParser.parse(Array(line))
        }
    case 12:
        // An answer from a DNS server: lengths, pointers and names are the server's to lie about.
        _ = try? DNSMessage.parse(Array(bytes.dropFirst()))
    case 13:
        // A message to sign: its header split, both canonicalizations and an Ed25519 signature.
        // The key is made per input: a global one would be reported by LeakSanitizer.
        let key = DKIMSigner.Key(domain: "fuzz.test", selector: "fuzz", privateKey: try! DKIMPrivateKey(
            algorithm: .ed25519SHA256, pem: fuzzDKIMKeyPEM))
        _ = try? DKIMSigner().signatureFields(for: Array(bytes.dropFirst()), keys: [key])
    case 14:
        // SCRAM: newline-separated client messages through one exchange (made-up secrets
        // when asked, as for an unknown login); and the same text as an LDAP filter value.
        var exchange = SASLExchange(mechanism: .scramSHA256)
        let messages = text.split(separator: "\n", omittingEmptySubsequences: false)
        var step = exchange.start(initialResponse: messages.first.map { Array($0.utf8) })
        for message in messages.dropFirst() {
            if case .needSCRAMSecrets = step { step = exchange.provide(nil) }
            step = exchange.respond(Array(message.utf8))
        }
        _ = LDAPFilter.expand("(&(mail=%s)(uid=%u)(o=%d))", address: text, localPart: text, domain: text)
        _ = LDAPFilter.isValidTemplate(text)
    case 0: _ = try? DomainName(text)
    case 1: _ = try? EmailAddress(text)
    case 2: _ = try? AliasSource(text)
    case 3: _ = try? DatabaseURL(parsing: text)
    case 4: _ = SQLScript.statements(text)
    default:
        _ = Punycode.decode(text)
        _ = Punycode.encode(Array(text.unicodeScalars))
        _ = PasswordHashFormat.schemeName(of: text)
    }
    return 0
}

#if PETREL_FUZZ
// SwiftPM links an executable with `main` aliased to `PetrelFuzz_main`; with -parse-as-library
// there is no Swift main, so this entry point hands the process to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("PetrelFuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzOne(data, size) }
}
#endif
// Built without PETREL_FUZZ (a normal `swift build`), this executable does nothing.

/// A fixed Ed25519 key for selector 13 (a constant: the fuzzer looks at the message, not the key).
let fuzzDKIMKeyPEM = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\n-----END PRIVATE KEY-----\n"
