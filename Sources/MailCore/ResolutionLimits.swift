/// Bounds and options for address resolution. Postfix's counterparts are
/// `virtual_alias_recursion_limit`, `virtual_alias_expansion_limit` and `recipient_delimiter`.
public struct ResolutionLimits: Sendable, Equatable {
    /// How deep alias expansion may nest. Real alias chains are a few levels deep; a deeper one
    /// is a configuration mistake, and the bound keeps a bad table from costing unbounded queries.
    public var maximumDepth: Int
    /// How many targets one resolution may visit in total (fan-out bound, counted over the whole
    /// expansion, so a wide alias of wide aliases is caught too).
    public var maximumTargets: Int
    /// Characters that start a subaddress tag (`user+tag@`). Empty disables subaddressing.
    public var subaddressDelimiters: Set<Character>

    public init(maximumDepth: Int = 20, maximumTargets: Int = 1000, subaddressDelimiters: Set<Character> = ["+"]) {
        self.maximumDepth = maximumDepth
        self.maximumTargets = maximumTargets
        self.subaddressDelimiters = subaddressDelimiters
    }

    public static let `default` = ResolutionLimits()
}
