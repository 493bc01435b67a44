/// A mailbox address `local@domain` in Petrel's canonical form: the local part lower-cased
/// (Petrel treats local parts case-insensitively, as Postfix and Dovecot do in practice), the
/// domain normalised by ``DomainName``.
///
/// The local part must be a dot-atom (RFC 5321 §4.1.2, `Dot-string`), with UTF-8 allowed as in
/// RFC 6531 §3.3; at most 64 octets (RFC 5321 §4.5.3.1.1).
public struct EmailAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let localPart: String
    public let domain: DomainName

    public var description: String { "\(localPart)@\(domain.ascii)" }

    public static func < (lhs: EmailAddress, rhs: EmailAddress) -> Bool { lhs.description < rhs.description }

    public enum Invalid: Error, Equatable, CustomStringConvertible {
        case missingAt
        case emptyLocalPart
        case localPartTooLong
        case badLocalPart(String)
        case badDomain(DomainName.Invalid)

        public var description: String {
            switch self {
            case .missingAt: return "an address needs the form local@domain"
            case .emptyLocalPart: return "the part before '@' is empty"
            case .localPartTooLong: return "the part before '@' is longer than 64 octets"
            case .badLocalPart(let l): return "'\(l)' is not a valid local part (letters, digits and !#$%&'*+-/=?^_`{|}~ separated by single dots)"
            case .badDomain(let d): return "bad domain: \(d)"
            }
        }
    }

    public init(localPart: String, domain: DomainName) throws {
        let lowered = localPart.lowercased()
        try Self.validateLocalPart(lowered)
        self.localPart = lowered
        self.domain = domain
    }

    /// Parses `local@domain`. The last `@` separates the parts, so no quoted local parts here.
    public init(_ input: String) throws {
        guard input.utf8.count <= 512 else { throw Invalid.localPartTooLong }
        guard let at = input.lastIndex(of: "@") else { throw Invalid.missingAt }
        let local = String(input[..<at])
        let domainText = String(input[input.index(after: at)...])
        let domain: DomainName
        do { domain = try DomainName(domainText) } catch let error as DomainName.Invalid { throw Invalid.badDomain(error) }
        try self.init(localPart: local, domain: domain)
    }

    static func validateLocalPart(_ local: String) throws {
        guard !local.isEmpty else { throw Invalid.emptyLocalPart }
        guard local.utf8.count <= 64 else { throw Invalid.localPartTooLong }
        var previousDot = true  // a leading dot is refused
        for byte in local.utf8 {
            if byte == UInt8(ascii: ".") {
                if previousDot { throw Invalid.badLocalPart(local) }
                previousDot = true
                continue
            }
            previousDot = false
            guard isAtext(byte) else { throw Invalid.badLocalPart(local) }
        }
        if previousDot { throw Invalid.badLocalPart(local) }
    }

    /// RFC 5322 §3.2.3 `atext`, plus any non-ASCII byte of UTF-8 (RFC 6531 `UTF8-non-ascii`).
    static func isAtext(_ byte: UInt8) -> Bool {
        if byte >= 0x80 { return true }
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-/=?^_`{|}~".utf8.contains(byte)
        }
    }

    /// The address without its subaddress tag: `user+tag@d` → `user@d` for delimiter `+`.
    /// Several delimiter characters may be given (Postfix `recipient_delimiter = +-`); the first
    /// one found splits. Returns nil when there is no tag (or the base would be empty).
    public func withoutSubaddress(delimiters: Set<Character>) -> EmailAddress? {
        guard !delimiters.isEmpty, let index = localPart.firstIndex(where: { delimiters.contains($0) }),
              index != localPart.startIndex else { return nil }
        return try? EmailAddress(localPart: String(localPart[..<index]), domain: domain)
    }

    /// The same local part in another domain (domain-alias rewrite).
    public func inDomain(_ other: DomainName) -> EmailAddress {
        // The local part was validated already; only the domain changes.
        (try? EmailAddress(localPart: localPart, domain: other))!
    }
}
