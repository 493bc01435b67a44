import Crypto
import Foundation

/// The server side of SCRAM-SHA-256 (RFC 5802 §5, RFC 7677) without channel binding: the
/// plain mechanism is offered, never `-PLUS`.
///
///     C: n,,n=user,r=<client nonce>                     client-first-message
///     S: r=<client nonce><server nonce>,s=<salt>,i=<n>  server-first-message
///     C: c=biws,r=<nonce>,p=<proof>                     client-final-message
///     S: v=<server signature>                           server-final-message
///
/// The server learns the user name from the first message and needs that account's secrets
/// before it can answer: ``SASLExchange`` surfaces that as `.needSCRAMSecrets`. An account
/// without secrets (unknown, or never logged in since they were introduced) is answered with
/// made-up ones, so the exchange runs to the end and fails like a wrong password: nothing
/// tells the client which names exist (RFC 5802 §9).
struct SCRAMServerExchange: Sendable {
    enum State: Sendable {
        case clientFirst
        case secrets(username: String, gs2Header: String, clientFirstBare: String, clientNonce: String)
        case clientFinal(username: String, gs2Header: String, authMessagePrefix: String, nonce: String, secrets: SCRAMSecrets, genuine: Bool)
        case acknowledgement(username: String)
        case finished
    }

    private(set) var state = State.clientFirst
    /// Fixed in tests (RFC 7677's example); random otherwise.
    let serverNonce: String

    init(serverNonce: String? = nil) {
        self.serverNonce = serverNonce ?? Self.randomNonce()
    }

    static func randomNonce() -> String {
        var bytes = [UInt8](repeating: 0, count: 18)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0 ... 255) }
        return Data(bytes).base64EncodedString()   // no ',' in base64
    }

    enum Outcome: Sendable, Equatable {
        case challenge([UInt8])
        case needSecrets(username: String)
        case authenticated(username: String)
        case failed(username: String, reason: String)
        case malformed(String)
    }

    mutating func receive(_ message: [UInt8]) -> Outcome {
        guard let text = String(validating: message, as: UTF8.self), !text.contains("\u{0}") else {
            state = .finished
            return .malformed("SCRAM message is not UTF-8")
        }
        switch state {
        case .clientFirst: return receiveClientFirst(text)
        case .clientFinal(let username, let gs2, let prefix, let nonce, let secrets, let genuine):
            return receiveClientFinal(text, username: username, gs2Header: gs2, authMessagePrefix: prefix,
                                      nonce: nonce, secrets: secrets, genuine: genuine)
        case .acknowledgement(let username):
            state = .finished
            // RFC 4954 §4 / RFC 3501 §6.2.2: the client answers the server-final data with an empty response.
            return text.isEmpty ? .authenticated(username: username) : .malformed("expected an empty response")
        case .secrets, .finished:
            state = .finished
            return .malformed("unexpected SCRAM message")
        }
    }

    /// RFC 5802 §7: `gs2-header client-first-message-bare`, gs2-header = gs2-cbind-flag "," [authzid] ",".
    private mutating func receiveClientFirst(_ text: String) -> Outcome {
        state = .finished
        let parts = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .malformed("not a SCRAM client-first-message") }
        switch parts[0] {
        case "n", "y": break   // "y": the client could bind but thinks we cannot: we cannot.
        default: return .malformed("channel binding is not supported")
        }
        let bare = String(parts[2])
        let attributes = bare.split(separator: ",", omittingEmptySubsequences: false)
        guard attributes.count >= 2, attributes[0].hasPrefix("n="), attributes[1].hasPrefix("r=") else {
            return .malformed("client-first-message-bare needs n= and r=")
        }
        // §5.1: a mandatory extension ("m=") this server does not know must fail the exchange.
        guard !bare.hasPrefix("m=") else { return .malformed("unsupported mandatory extension") }
        guard let username = Self.decodeSaslName(attributes[0].dropFirst(2)), !username.isEmpty else {
            return .malformed("bad user name")
        }
        if !parts[1].isEmpty {
            guard parts[1].hasPrefix("a="), let authzid = Self.decodeSaslName(parts[1].dropFirst(2)),
                  authzid.lowercased() == username.lowercased() else {
                return .malformed("authorization identity differs from the login")
            }
        }
        let clientNonce = String(attributes[1].dropFirst(2))
        guard !clientNonce.isEmpty, clientNonce.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }) else {
            return .malformed("bad client nonce")
        }
        state = .secrets(username: username, gs2Header: "\(parts[0]),\(parts[1]),", clientFirstBare: bare, clientNonce: clientNonce)
        return .needSecrets(username: username)
    }

    /// The account's secrets, or nil for none: then made-up ones, and the proof cannot match.
    mutating func provide(_ secrets: SCRAMSecrets?, decoyKey: [UInt8]? = nil) -> Outcome {
        guard case .secrets(let username, let gs2, let bare, let clientNonce) = state else {
            state = .finished
            return .malformed("unexpected SCRAM state")
        }
        let used = secrets ?? Self.decoy(for: username, key: decoyKey ?? Self.processDecoyKey)
        let nonce = clientNonce + serverNonce
        let serverFirst = "r=\(nonce),s=\(Data(used.salt).base64EncodedString()),i=\(used.iterations)"
        state = .clientFinal(username: username, gs2Header: gs2, authMessagePrefix: bare + "," + serverFirst,
                             nonce: nonce, secrets: used, genuine: secrets != nil)
        return .challenge(Array(serverFirst.utf8))
    }

    /// RFC 5802 §7: `channel-binding "," nonce ["," extensions] "," proof`.
    private mutating func receiveClientFinal(_ text: String, username: String, gs2Header: String, authMessagePrefix: String,
                                             nonce: String, secrets: SCRAMSecrets, genuine: Bool) -> Outcome {
        state = .finished
        guard let proofRange = text.range(of: ",p=", options: .backwards) else { return .malformed("no proof") }
        let withoutProof = String(text[..<proofRange.lowerBound])
        let attributes = withoutProof.split(separator: ",", omittingEmptySubsequences: false)
        guard attributes.count >= 2, attributes[0].hasPrefix("c="), attributes[1].hasPrefix("r=") else {
            return .malformed("client-final-message needs c= and r=")
        }
        // c= is the base64 of the gs2-header (no channel binding data, as none was negotiated).
        guard Data(base64Encoded: String(attributes[0].dropFirst(2))).map(Array.init) == Array(gs2Header.utf8) else {
            return .failed(username: username, reason: "channel binding data differs")
        }
        guard attributes[1].dropFirst(2) == nonce else { return .failed(username: username, reason: "nonce differs") }
        guard let proof = Data(base64Encoded: String(text[proofRange.upperBound...])), proof.count == SHA256.byteCount else {
            return .malformed("bad proof")
        }
        let authMessage = Array((authMessagePrefix + "," + withoutProof).utf8)
        let clientSignature = Array(HMAC<SHA256>.authenticationCode(for: authMessage, using: SymmetricKey(data: secrets.storedKey)))
        let clientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        guard genuine, constantTimeEquals(Array(SHA256.hash(data: clientKey)), secrets.storedKey) else {
            return .failed(username: username, reason: genuine ? "wrong password" : "no SCRAM secrets for this login")
        }
        let serverSignature = HMAC<SHA256>.authenticationCode(for: authMessage, using: SymmetricKey(data: secrets.serverKey))
        state = .acknowledgement(username: username)
        return .challenge(Array(("v=" + Data(serverSignature).base64EncodedString()).utf8))
    }

    /// RFC 5802 §5.1: in a saslname "=2C" is ",", "=3D" is "=", and any other "=" is an error.
    static func decodeSaslName(_ raw: Substring) -> String? {
        var out = ""
        var rest = raw[...]
        while let index = rest.firstIndex(of: "=") {
            out += rest[..<index]
            let code = rest[index...].prefix(3)
            switch code {
            case "=2C": out += ","
            case "=3D": out += "="
            default: return nil
            }
            rest = rest[rest.index(index, offsetBy: 3)...]
        }
        out += rest
        return out
    }

    /// Made-up secrets for a login without any: a salt that is stable for the name (a client
    /// asking twice, on any node, sees the same one, as for a real account) but keyed with a
    /// secret, so nobody can compute it and so tell a made-up salt from a real one; and keys
    /// that match nothing.
    static func decoy(for username: String, key: [UInt8]) -> SCRAMSecrets {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(username.lowercased().utf8), using: SymmetricKey(data: key))
        let salt = Array(Data(mac).prefix(16))
        return SCRAMSecrets(iterations: SCRAMSecrets.defaultIterations, salt: salt,
                            storedKey: [UInt8](repeating: 0, count: 32), serverKey: [UInt8](repeating: 0, count: 32))
    }

    /// The fallback key when the shared one is not given (tests, the fuzzer).
    private static let processDecoyKey: [UInt8] = (0 ..< 32).map { _ in UInt8.random(in: 0 ... 255) }
}
