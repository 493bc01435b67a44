import Foundation

/// A DNS domain name in the one form Petrel stores and compares: lower case, IDNA A-labels
/// (`xn--…`) for non-ASCII labels, no trailing dot.
///
/// Normalisation follows IDNA2008's lookup steps as far as a mail server needs them
/// (RFC 5890/5891): Unicode labels are NFC-normalised and lower-cased, then Punycode-encoded;
/// ASCII labels are lower-cased. Labels must be LDH (letters, digits, hyphen), 1–63 octets,
/// not starting or ending with a hyphen; the whole name at most 253 octets (RFC 1035 §2.3.4).
public struct DomainName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The normalised ASCII form, e.g. `xn--mnchen-3ya.example`.
    public let ascii: String

    public var description: String { ascii }

    /// The human form, with A-labels decoded back to Unicode where they decode cleanly.
    public var unicode: String {
        ascii.split(separator: ".", omittingEmptySubsequences: false).map { label -> String in
            guard label.hasPrefix("xn--"), let scalars = Punycode.decode(String(label.dropFirst(4))) else {
                return String(label)
            }
            var s = ""
            s.unicodeScalars.append(contentsOf: scalars)
            return s
        }.joined(separator: ".")
    }

    public static func < (lhs: DomainName, rhs: DomainName) -> Bool { lhs.ascii < rhs.ascii }

    public enum Invalid: Error, Equatable, CustomStringConvertible {
        case empty
        case tooLong
        case emptyLabel
        case labelTooLong(String)
        case badCharacter(String)
        case hyphenAtEdge(String)
        case badPunycode(String)
        case singleLabelNumeric

        public var description: String {
            switch self {
            case .empty: return "the domain is empty"
            case .tooLong: return "the domain is longer than 253 characters"
            case .emptyLabel: return "the domain has an empty label (two dots in a row, or a leading dot)"
            case .labelTooLong(let l): return "the label '\(l)' is longer than 63 characters"
            case .badCharacter(let l): return "the label '\(l)' has a character that is not allowed in a domain"
            case .hyphenAtEdge(let l): return "the label '\(l)' starts or ends with a hyphen"
            case .badPunycode(let l): return "the label '\(l)' is not valid Punycode"
            case .singleLabelNumeric: return "the last label of a domain cannot be all digits"
            }
        }
    }

    /// Parses and normalises a domain given by a person or a peer. Throws ``Invalid``.
    public init(_ input: String) throws {
        var text = input
        if text.hasSuffix(".") { text.removeLast() }
        guard !text.isEmpty else { throw Invalid.empty }
        // Bound the work before any Unicode processing.
        guard text.utf8.count <= 1024 else { throw Invalid.tooLong }
        // IDNA2008 treats these full stops as label separators too (UTS #46 mapping).
        let separators: Set<Character> = [".", "\u{3002}", "\u{FF0E}", "\u{FF61}"]
        let labels = text.split(omittingEmptySubsequences: false, whereSeparator: { separators.contains($0) })
        var out: [String] = []
        for raw in labels {
            guard !raw.isEmpty else { throw Invalid.emptyLabel }
            let label = String(raw)
            let ace: String
            if label.unicodeScalars.allSatisfy({ $0.isASCII }) {
                ace = label.lowercased()
                if ace.hasPrefix("xn--") {
                    // Only the canonical spelling: decoding and encoding again must give the same
                    // label, so that one domain cannot be stored under two names.
                    guard let decoded = Punycode.decode(String(ace.dropFirst(4))), !decoded.isEmpty,
                          !decoded.allSatisfy({ $0.isASCII }) else { throw Invalid.badPunycode(label) }
                    var unicode = ""
                    unicode.unicodeScalars.append(contentsOf: decoded)
                    let folded = unicode.precomposedStringWithCanonicalMapping.lowercased()
                    guard folded.unicodeScalars.allSatisfy({ Self.isAllowedUnicode($0) }),
                          Punycode.encode(Array(folded.unicodeScalars)).map({ "xn--" + $0 }) == ace else {
                        throw Invalid.badPunycode(label)
                    }
                }
            } else {
                let folded = label.precomposedStringWithCanonicalMapping.lowercased()
                guard folded.unicodeScalars.allSatisfy({ Self.isAllowedUnicode($0) }) else {
                    throw Invalid.badCharacter(label)
                }
                guard let encoded = Punycode.encode(Array(folded.unicodeScalars)) else { throw Invalid.labelTooLong(label) }
                ace = "xn--" + encoded
            }
            guard ace.utf8.count <= 63 else { throw Invalid.labelTooLong(label) }
            guard ace.utf8.allSatisfy({ Self.isLDH($0) }) else { throw Invalid.badCharacter(label) }
            guard !ace.hasPrefix("-"), !ace.hasSuffix("-") else { throw Invalid.hyphenAtEdge(label) }
            out.append(ace)
        }
        let joined = out.joined(separator: ".")
        guard joined.utf8.count <= 253 else { throw Invalid.tooLong }
        if out.count > 1, let last = out.last, last.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            throw Invalid.singleLabelNumeric
        }
        self.ascii = joined
    }

    static func isLDH(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D
    }

    /// Letters, marks and digits of any script, and the hyphen; no symbols, spaces or controls.
    static func isAllowedUnicode(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII { return isLDH(UInt8(scalar.value)) }
        switch scalar.properties.generalCategory {
        case .lowercaseLetter, .uppercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber:
            return true
        default:
            return false
        }
    }
}
