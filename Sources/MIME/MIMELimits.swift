/// Bounds that keep hostile input linear and small. The defaults follow Dovecot 2.3
/// (`mail_max_nested_mime_parts` 100, total parts 10,000): past a bound the rest of the
/// message is kept as body bytes of the innermost part, never an error and never a crash.
public struct MIMELimits: Sendable, Equatable {
    /// Deepest nesting of multipart and message/rfc822 parts that is still parsed as structure.
    public var maxNestingDepth: Int
    /// Most body parts in one message; later boundaries are treated as body text.
    public var maxParts: Int
    /// Most header fields kept per part (the bytes stay in the message either way).
    public var maxHeaderFields: Int
    /// Most header fields kept in the whole message, all parts together.
    public var maxHeaderFieldsTotal: Int
    /// Most addresses read from the envelope fields of one message.
    public var maxAddresses: Int
    /// Most parameters read from one Content-Type or Content-Disposition field.
    public var maxParameters: Int
    /// Longest decoded search text kept per message, in bytes.
    public var maxSearchTextBytes: Int

    public init(maxNestingDepth: Int = 100, maxParts: Int = 10_000, maxHeaderFields: Int = 10_000,
                maxHeaderFieldsTotal: Int = 50_000, maxAddresses: Int = 10_000,
                maxParameters: Int = 256, maxSearchTextBytes: Int = 1 << 20) {
        // The BODYSTRUCTURE writer recurses once per level: keep the stack small whatever is asked.
        self.maxNestingDepth = min(max(maxNestingDepth, 1), 200)
        self.maxHeaderFieldsTotal = maxHeaderFieldsTotal
        self.maxAddresses = maxAddresses
        self.maxParts = maxParts
        self.maxHeaderFields = maxHeaderFields
        self.maxParameters = maxParameters
        self.maxSearchTextBytes = maxSearchTextBytes
    }

    public static let `default` = MIMELimits()
}
