import MailCore

/// A mailbox as stored, with what LIST needs to know about it.
public struct MailboxRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String
    public var specialUse: SpecialUse?
    /// False for a \Noselect level that only holds children.
    public var selectable: Bool
    public var hasChildren: Bool
    public var subscribed: Bool
    public var uidValidity: UInt32
    public var uidNext: UInt32
    public var highestModSeq: Int64
}
