/// The status of a tagged or untagged status response.
public enum ResponseStatus: String, Hashable, Sendable {
    case ok = "OK", no = "NO", bad = "BAD", bye = "BYE", preauth = "PREAUTH"
}

/// Response codes: RFC 3501 §7.1, RFC 5530 (the `[UNAVAILABLE]` family), RFC 4315 (UIDPLUS),
/// RFC 7162 (CONDSTORE), RFC 9208 (OVERQUOTA), RFC 7889 (TOOBIG via RFC 4469).
public enum ResponseCode: Hashable, Sendable {
    case alert, parse, readOnly, readWrite, tryCreate
    case capability([String])
    /// `allowsNew`: `\*` — clients may create keywords.
    case permanentFlags([Flag], allowsNew: Bool)
    case uidNext(UInt32), uidValidity(UInt32), unseen(UInt32)
    case appendUID(validity: UInt32, uid: UInt32)
    case copyUID(validity: UInt32, source: [ClosedRange<UInt32>], destination: [ClosedRange<UInt32>])
    case highestModSeq(UInt64), noModSeq
    case unavailable, authenticationFailed, authorizationFailed, expired, privacyRequired, contactAdmin
    case noPerm, inUse, expungeIssued, corruption, serverBug, clientBug, cannot, limit, overQuota
    case alreadyExists, nonexistent, tooBig, closed
    /// RFC 3501 §7.1: the charsets SEARCH understands.
    case badCharset([String])

    /// The code as it appears between the brackets.
    public var text: String {
        switch self {
        case .alert: return "ALERT"
        case .parse: return "PARSE"
        case .readOnly: return "READ-ONLY"
        case .readWrite: return "READ-WRITE"
        case .tryCreate: return "TRYCREATE"
        case .capability(let caps): return (["CAPABILITY"] + caps).joined(separator: " ")
        case .permanentFlags(let flags, let allowsNew):
            return "PERMANENTFLAGS (" + (flags.map(\.text) + (allowsNew ? ["\\*"] : [])).joined(separator: " ") + ")"
        case .uidNext(let n): return "UIDNEXT \(n)"
        case .uidValidity(let n): return "UIDVALIDITY \(n)"
        case .unseen(let n): return "UNSEEN \(n)"
        case .appendUID(let validity, let uid): return "APPENDUID \(validity) \(uid)"
        case .copyUID(let validity, let source, let destination):
            return "COPYUID \(validity) \(UIDRanges.render(source)) \(UIDRanges.render(destination))"
        case .highestModSeq(let n): return "HIGHESTMODSEQ \(n)"
        case .noModSeq: return "NOMODSEQ"
        case .unavailable: return "UNAVAILABLE"
        case .authenticationFailed: return "AUTHENTICATIONFAILED"
        case .authorizationFailed: return "AUTHORIZATIONFAILED"
        case .expired: return "EXPIRED"
        case .privacyRequired: return "PRIVACYREQUIRED"
        case .contactAdmin: return "CONTACTADMIN"
        case .noPerm: return "NOPERM"
        case .inUse: return "INUSE"
        case .expungeIssued: return "EXPUNGEISSUED"
        case .corruption: return "CORRUPTION"
        case .serverBug: return "SERVERBUG"
        case .clientBug: return "CLIENTBUG"
        case .cannot: return "CANNOT"
        case .limit: return "LIMIT"
        case .overQuota: return "OVERQUOTA"
        case .alreadyExists: return "ALREADYEXISTS"
        case .nonexistent: return "NONEXISTENT"
        case .tooBig: return "TOOBIG"
        case .closed: return "CLOSED"
        case .badCharset(let names): return "BADCHARSET (" + names.joined(separator: " ") + ")"
        }
    }
}

/// UID ranges as IMAP writes them: `1:3,7,9:12`.
public enum UIDRanges {
    public static func render(_ ranges: [ClosedRange<UInt32>]) -> String {
        ranges.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound):\($0.upperBound)" }
            .joined(separator: ",")
    }
}

/// One item of an untagged FETCH response. Structures (ENVELOPE, BODY, BODYSTRUCTURE) come
/// from the store already in wire form.
public enum FetchItem: Hashable, Sendable {
    case uid(UInt32)
    case flags([Flag])
    /// `INTERNALDATE`: seconds since 1970 and the zone to show it in (minutes east of UTC).
    case internalDate(seconds: Int64, zoneMinutes: Int)
    case rfc822Size(Int)
    case envelope([UInt8])
    case body([UInt8])
    case bodyStructure([UInt8])
    case modSeq(UInt64)
    /// `BODY[section]<origin>` with its bytes (nil: NIL); also RFC822, RFC822.HEADER, RFC822.TEXT.
    case section(FetchSectionName, [UInt8]?)
}

/// The name a section is answered under.
public enum FetchSectionName: Hashable, Sendable {
    case rfc822, rfc822Header, rfc822Text
    /// `BODY[spec]`, with `<origin>` when the request had a partial (RFC 3501 §7.4.2).
    case body(SectionSpec, origin: Int?)
}

/// A mailbox's STATUS item and value.
public struct StatusItem: Hashable, Sendable {
    public var attribute: StatusAttribute
    public var value: UInt64

    public init(_ attribute: StatusAttribute, _ value: UInt64) {
        self.attribute = attribute
        self.value = value
    }
}

/// One resource of a QUOTA response (RFC 9208 §5.1): usage and limit, in KiB for STORAGE.
public struct QuotaResource: Hashable, Sendable {
    public var name: String
    public var usage: UInt64
    public var limit: UInt64

    public init(_ name: String, usage: UInt64, limit: UInt64) {
        self.name = name
        self.usage = usage
        self.limit = limit
    }
}

/// Untagged data responses (RFC 3501 §7.2–7.4 and the extensions').
public enum UntaggedData: Hashable, Sendable {
    case capability([String])
    case flags([Flag])
    case exists(UInt32)
    case recent(UInt32)
    case expunge(UInt32)
    /// `LIST (attributes) "/" name`; the name is sent quoted or as a literal.
    case list(attributes: [String], delimiter: Character?, name: [UInt8])
    case lsub(attributes: [String], delimiter: Character?, name: [UInt8])
    case status(name: [UInt8], [StatusItem])
    case search([UInt32], highestModSeq: UInt64?)
    case fetch(UInt32, [FetchItem])
    /// One personal namespace (prefix, delimiter); no others.
    case namespace(prefix: String, delimiter: Character)
    case id([IDField]?)
    case enabled([String])
    case quota(root: [UInt8], [QuotaResource])
    case quotaRoot(mailbox: [UInt8], roots: [[UInt8]])
}

/// Anything the server sends.
public enum IMAPResponse: Hashable, Sendable {
    case tagged(String, ResponseStatus, ResponseCode?, String)
    case untagged(ResponseStatus, ResponseCode?, String)
    case data(UntaggedData)
    /// `+ text`: go on (a literal, an AUTHENTICATE step, IDLE).
    case continuation(String)
}
