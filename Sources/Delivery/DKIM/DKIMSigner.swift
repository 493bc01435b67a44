import Crypto
import Foundation

/// Makes DKIM-Signature header fields (RFC 6376 §3.5, §5): `c=relaxed/relaxed`, the header
/// fields a reader sees signed, From and the other address and subject fields oversigned so
/// that none can be added after signing without breaking the signature.
public struct DKIMSigner: Sendable {
    /// Signed when present (RFC 6376 §5.4.1's list, plus the MIME and list fields).
    public static let signedFields = [
        "from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
        "mime-version", "content-type", "content-transfer-encoding", "content-id", "content-description",
        "resent-date", "resent-from", "resent-sender", "resent-to", "resent-cc", "resent-message-id",
        "in-reply-to", "references",
        "list-id", "list-help", "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive",
    ]
    /// Listed once more than they occur (RFC 6376 §8.15: a field added later then breaks the
    /// signature instead of being shown as if signed).
    public static let oversignedFields: Set<String> = ["from", "to", "cc", "subject", "date", "reply-to"]

    /// Instances of one field name signed at most (the last ones: a verifier selects from the
    /// bottom up).
    public static let maximumInstances = 50

    public struct Key: Sendable {
        public let domain: String
        public let selector: String
        public let privateKey: DKIMPrivateKey

        public init(domain: String, selector: String, privateKey: DKIMPrivateKey) {
            self.domain = domain
            self.selector = selector
            self.privateKey = privateKey
        }
    }

    public enum SigningError: Error, CustomStringConvertible {
        case noFromField
        case signatureFailed(String)

        public var description: String {
            switch self {
            case .noFromField: return "the message has no From field (RFC 6376 §5.4: it must be signed)"
            case .signatureFailed(let reason): return "DKIM signing failed: \(reason)"
            }
        }
    }

    public init() {}

    /// The DKIM-Signature fields (CRLF-terminated, one per key) to put in front of `message`.
    public func signatureFields(for message: [UInt8], keys: [Key], time: Date = Date()) throws -> [UInt8] {
        let parsed = DKIMHeaderFields(message)
        guard parsed.fields.contains(where: { $0.name == "from" }) else { throw SigningError.noFromField }
        var names: [String] = []
        for name in Self.signedFields {
            // At most the last `maximumInstances` of a field are signed: a message with 100,000
            // Cc lines makes neither a huge h= nor a long signing.
            let count = min(parsed.count(name), Self.maximumInstances)
            let times = count + (Self.oversignedFields.contains(name) ? 1 : 0)
            names.append(contentsOf: repeatElement(name, count: times))
        }
        let bodyHash = Data(DKIMCanonicalization.relaxedBodyHash(parsed.body)).base64EncodedString()
        var headerData: [UInt8] = []
        for field in parsed.selected(names) { headerData += DKIMCanonicalization.relaxedHeader(field) }

        var out: [UInt8] = []
        for key in keys {
            let unsigned = Self.unsignedField(key: key, names: names, bodyHash: bodyHash, time: time)
            // RFC 6376 §3.7: the signature field itself last, with b= empty and no final CRLF.
            var signed = headerData + DKIMCanonicalization.relaxedHeader(ArraySlice(unsigned.utf8))
            signed.removeLast(2)
            let signature: [UInt8]
            do {
                signature = try key.privateKey.sign(signed)
            } catch {
                throw SigningError.signatureFailed("\(error)")
            }
            out += Array(unsigned.utf8) + Self.folded(Data(signature).base64EncodedString()) + DKIMCanonicalization.crlf
        }
        return out
    }

    /// The field up to and including `b=`, folded at tag boundaries and within h= (RFC 6376
    /// §3.2 allows FWS there), each line within 78 characters (bh= of SHA-256 always fits).
    static func unsignedField(key: Key, names: [String], bodyHash: String, time: Date) -> String {
        var lines: [String] = []
        var line = "DKIM-Signature:"
        func add(_ piece: String, separator: String = " ") {
            if line.count + separator.count + piece.count > 78 {
                lines.append(line)
                line = "\t" + piece
            } else {
                line += separator + piece
            }
        }
        add("v=1;")
        add("a=\(key.privateKey.algorithm.rawValue);")
        add("c=relaxed/relaxed;")
        add("d=\(key.domain);")
        add("s=\(key.selector);")
        add("t=\(Int(time.timeIntervalSince1970));")
        for (index, name) in names.enumerated() {
            let piece = (index == 0 ? "h=" : "") + name + (index == names.count - 1 ? ";" : ":")
            add(piece, separator: index == 0 ? " " : "")
        }
        add("bh=\(bodyHash);")
        // b= on a line of its own: its value's lines (72 characters, see folded) then fit too.
        lines.append(line)
        lines.append("\tb=")
        return lines.joined(separator: "\r\n")
    }

    /// The signature's base64, broken into lines of 72 (FWS within b= is ignored, §3.5).
    static func folded(_ base64: String) -> [UInt8] {
        var out: [UInt8] = []
        var index = base64.startIndex
        while index < base64.endIndex {
            if index != base64.startIndex { out += [0x0D, 0x0A, 0x09] }
            let next = base64.index(index, offsetBy: 72, limitedBy: base64.endIndex) ?? base64.endIndex
            out += Array(base64[index..<next].utf8)
            index = next
        }
        return out
    }
}
