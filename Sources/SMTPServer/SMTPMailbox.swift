/// An address from a MAIL FROM or RCPT TO path (RFC 5321 §4.1.2), as the client wrote it:
/// the local part unquoted, the domain (or `[address literal]`) as given.
public struct SMTPMailbox: Sendable, Equatable, CustomStringConvertible {
    /// The local part with quoting removed (`"a b"` → `a b`).
    public var localPart: String
    /// A domain name, or an address literal in brackets (`[192.0.2.1]`, `[IPv6:…]`).
    public var domain: String
    /// The local part was a quoted string that is not also a valid dot-string.
    public var needsQuoting: Bool
    /// The path had a source route (`<@relay:user@domain>`), which was dropped (RFC 5321
    /// §4.1.1.3, Appendix C: servers SHOULD ignore it).
    public var hadSourceRoute: Bool

    public var isAddressLiteral: Bool { domain.hasPrefix("[") }
    public var isASCII: Bool { localPart.utf8.allSatisfy { $0 < 0x80 } && domain.utf8.allSatisfy { $0 < 0x80 } }

    /// The address as written on the wire (quoted when it has to be).
    public var description: String {
        if needsQuoting {
            var quoted = "\""
            for c in localPart {
                if c == "\"" || c == "\\" { quoted.append("\\") }
                quoted.append(c)
            }
            return quoted + "\"@" + domain
        }
        return localPart + "@" + domain
    }

    /// Routing through the local part (`user%remote@here`, `remote!user@here`,
    /// `"user@remote"@here`): the classic open-relay tricks (Postfix `allow_untrusted_routing`).
    public var hasSenderRouting: Bool {
        localPart.utf8.contains { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "!") || $0 == UInt8(ascii: "@") }
    }
}

/// A parsed reverse-path or forward-path.
public enum SMTPPath: Sendable, Equatable {
    /// `<>`: the null reverse-path (bounces).
    case null
    /// `<postmaster>` without a domain (RFC 5321 §4.1.1.3: always accepted as a recipient).
    case postmaster
    case mailbox(SMTPMailbox)
}
