import NIOCore

/// The addresses and ports this node's own SMTP listeners answer on. A next hop among them is
/// this node: delivering there would loop (Postfix: "mail for DOMAIN loops back to myself").
public struct OwnEndpoints: Sendable, Equatable {
    private var keys: Set<String> = []

    public init() {}

    /// From the listeners' (address, port): a wildcard address (0.0.0.0, ::) stands for every
    /// address of every interface of the machine.
    public init(listening listeners: [(address: String, port: Int)],
                interfaceAddresses: () -> [String] = OwnEndpoints.interfaceAddresses) {
        var interfaces: [String]?
        for (address, port) in listeners {
            if address == "0.0.0.0" || address == "::" || address == "*" {
                interfaces = interfaces ?? interfaceAddresses()
                for local in interfaces! { keys.insert(Self.key(local, port)) }
            }
            keys.insert(Self.key(address, port))
        }
    }

    public func contains(address: String, port: Int) -> Bool { keys.contains(Self.key(address, port)) }

    /// The canonical text of the address (so "::1" and "0:0::1" are one), then the port.
    static func key(_ address: String, _ port: Int) -> String {
        let canonical = (try? SocketAddress(ipAddress: address, port: 0))?.ipAddress ?? address.lowercased()
        return "\(canonical)|\(port)"
    }

    /// Every address of every network interface.
    public static func interfaceAddresses() -> [String] {
        ((try? System.enumerateDevices()) ?? []).compactMap { $0.address?.ipAddress }
    }
}
