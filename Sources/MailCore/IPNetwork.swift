/// An IPv4 or IPv6 network in CIDR form (`10.0.0.0/8`, `2001:db8::/32`, or one address), for
/// trusted networks (Postfix `mynetworks`). Pure parsing; an IPv4-mapped IPv6 client address
/// (`::ffff:10.1.2.3`) matches IPv4 networks.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: [UInt8]
    public let prefixLength: Int

    public struct Invalid: Error, CustomStringConvertible {
        public let text: String
        public var description: String { "'\(text)' is not an IP network (a.b.c.d/n or ipv6/n)" }
    }

    public init(_ text: String) throws {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.parseAddress(String(parts[0])) else { throw Invalid(text: text) }
        let maximum = address.count * 8
        var length = maximum
        if parts.count == 2 {
            guard parts[1].count <= 3, let n = Int(parts[1]), (0...maximum).contains(n) else { throw Invalid(text: text) }
            length = n
        }
        self.address = Self.masked(address, length)
        self.prefixLength = length
    }

    public var description: String {
        if address.count == 4 { return address.map(String.init).joined(separator: ".") + "/\(prefixLength)" }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(address[i]) << 8 | UInt16(address[i + 1]), radix: 16)) }
        return groups.joined(separator: ":") + "/\(prefixLength)"
    }

    /// Whether `ip` (text, as a socket reports it) is inside this network.
    public func contains(_ ip: String) -> Bool {
        guard let bytes = Self.parseAddress(ip) else { return false }
        return contains(bytes: bytes)
    }

    /// Whether the address `bytes` (as `parseAddress` makes them) is inside this network.
    public func contains(bytes: [UInt8]) -> Bool {
        var bytes = bytes
        if bytes.count == 16 && address.count == 4 && Self.isMapped(bytes) {
            bytes = Array(bytes[12...])
        }
        guard bytes.count == address.count else { return false }
        return Self.masked(bytes, prefixLength) == address
    }

    /// The IPv4 network an IPv4-mapped IPv6 network (`::ffff:192.0.2.0/120`) stands for;
    /// any other network as it is.
    public var unmapped: IPNetwork {
        guard address.count == 16, prefixLength >= 96, Self.isMapped(address) else { return self }
        return IPNetwork(address: Array(address[12...]), prefixLength: prefixLength - 96)
    }

    private init(address: [UInt8], prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// An address as text (`192.0.2.1`, `2001:db8::1`), an IPv4-mapped IPv6 address as the IPv4
    /// address it carries (`::ffff:192.0.2.1` → `192.0.2.1`); nil if it is not an address.
    public static func unmappedAddress(_ text: String) -> String? {
        guard let bytes = parseAddress(text) else { return nil }
        guard bytes.count == 16, isMapped(bytes) else { return text }
        return bytes[12...].map(String.init).joined(separator: ".")
    }

    /// Whether 16 address bytes are `::ffff:0:0/96`.
    static func isMapped(_ bytes: [UInt8]) -> Bool {
        bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
    }

    /// The masked bytes of an address (as `parseAddress` makes them) for a prefix length.
    public static func masked(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        var out = bytes
        for i in 0..<out.count {
            let bits = max(0, min(8, length - i * 8))
            out[i] &= bits == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
        }
        return out
    }

    /// The bytes of an IPv4 (4) or IPv6 (16) address in text form; nil if it is not one.
    public static func parseAddress(_ text: String) -> [UInt8]? {
        if text.utf8.contains(UInt8(ascii: ":")) { return parseIPv6(text) }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt8(p) else { return nil }
            out.append(n)
        }
        return out
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        guard text.count <= 45 else { return nil }
        var text = Substring(text)
        var tail4: [UInt8] = []
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].utf8.contains(UInt8(ascii: ".")) {
            guard let v4 = parseAddress(String(text[text.index(after: lastColon)...])) else { return nil }
            tail4 = v4
            text = text[...lastColon]
            if text.hasSuffix("::") == false { text = text.dropLast() }
        }
        let halves = text.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard (1...4).contains(g.count), let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        let rest = halves.count == 2 ? groups(halves[1]) : []
        guard let rest else { return nil }
        let total = 8 - tail4.count / 2
        var all: [UInt16]
        if halves.count == 2 {
            guard head.count + rest.count < total else { return nil }
            all = head + Array(repeating: 0, count: total - head.count - rest.count) + rest
        } else {
            guard head.count == total else { return nil }
            all = head
        }
        var out: [UInt8] = []
        for g in all { out.append(UInt8(g >> 8)); out.append(UInt8(g & 0xFF)) }
        return out + tail4
    }
}
