import Crypto
import Foundation
import _CryptoExtras

/// A DKIM signing key: RSA (`rsa-sha256`, RFC 6376 §3.3.1) or Ed25519 (`ed25519-sha256`,
/// RFC 8463). Stored as PEM — PKCS#1 or PKCS#8 for RSA, PKCS#8 for Ed25519 — which is also what
/// `opendkim-genkey` and `openssl genpkey` write, so existing keys can be imported.
public struct DKIMPrivateKey: Sendable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case rsaSHA256 = "rsa-sha256"
        case ed25519SHA256 = "ed25519-sha256"

        /// The `k=` of the DNS record.
        public var keyType: String { self == .rsaSHA256 ? "rsa" : "ed25519" }
    }

    public struct KeyError: Error, CustomStringConvertible {
        public let description: String
    }

    enum Backing: @unchecked Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    let backing: Backing

    public var algorithm: Algorithm {
        if case .rsa = backing { return .rsaSHA256 }
        return .ed25519SHA256
    }

    /// A new key: RSA of 2048 bits (RFC 8301 §3.2: signers use at least 2048), or Ed25519.
    public static func generate(_ algorithm: Algorithm) throws -> DKIMPrivateKey {
        switch algorithm {
        case .rsaSHA256: return DKIMPrivateKey(backing: .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048)))
        case .ed25519SHA256: return DKIMPrivateKey(backing: .ed25519(Curve25519.Signing.PrivateKey()))
        }
    }

    /// Reads a PEM key of the given algorithm. RSA keys of 1024 bits are accepted (RFC 8301
    /// still has verifiers accept them, and old OpenDKIM setups have them); smaller ones are not.
    public init(algorithm: Algorithm, pem: String) throws {
        switch algorithm {
        case .rsaSHA256:
            do {
                backing = .rsa(try _RSA.Signing.PrivateKey(unsafePEMRepresentation: pem))
            } catch {
                throw KeyError(description: "not an RSA private key of at least 1024 bits in PEM form (\(error))")
            }
        case .ed25519SHA256:
            backing = .ed25519(try Self.ed25519(pem: pem))
        }
    }

    private init(backing: Backing) {
        self.backing = backing
    }

    public var keySizeInBits: Int {
        switch backing {
        case .rsa(let key): return key.keySizeInBits
        case .ed25519: return 256
        }
    }

    public var pemRepresentation: String {
        switch backing {
        case .rsa(let key):
            return key.pemRepresentation
        case .ed25519(let key):
            return Self.pem(label: "PRIVATE KEY", der: Self.pkcs8Ed25519Prefix + Array(key.rawRepresentation))
        }
    }

    /// The `p=` of the DNS record: the SubjectPublicKeyInfo for RSA (RFC 6376 §3.6.1, as
    /// OpenDKIM publishes it), the bare 32-octet key for Ed25519 (RFC 8463 §4.2).
    public var publicKeyBase64: String {
        switch backing {
        case .rsa(let key): return key.publicKey.derRepresentation.base64EncodedString()
        case .ed25519(let key): return key.publicKey.rawRepresentation.base64EncodedString()
        }
    }

    /// The TXT record's text, to publish at `SELECTOR._domainkey.DOMAIN`.
    public var dnsRecord: String {
        "v=DKIM1; k=\(algorithm.keyType); p=\(publicKeyBase64)"
    }

    /// The signature over the canonicalized header data: RSASSA-PKCS1-v1_5 with SHA-256, or
    /// Ed25519 over the SHA-256 of the data (RFC 8463 §3: PureEdDSA of the hash).
    func sign(_ data: [UInt8]) throws -> [UInt8] {
        switch backing {
        case .rsa(let key):
            // swift-crypto's default padding is PSS; DKIM is PKCS#1 v1.5.
            return Array(try key.signature(for: SHA256.hash(data: data), padding: .insecurePKCS1v1_5).rawRepresentation)
        case .ed25519(let key):
            return Array(try key.signature(for: Array(SHA256.hash(data: data))))
        }
    }

    // MARK: Ed25519 in PKCS#8 (RFC 8410 §7): a fixed 16-octet prefix, then the 32-octet key.

    static let pkcs8Ed25519Prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70,
                                              0x04, 0x22, 0x04, 0x20]

    private static func ed25519(pem: String) throws -> Curve25519.Signing.PrivateKey {
        guard let der = derBytes(pem: pem, label: "PRIVATE KEY"), der.count == 48,
              Array(der.prefix(16)) == pkcs8Ed25519Prefix else {
            throw KeyError(description: "not an Ed25519 private key in PKCS#8 PEM form (BEGIN PRIVATE KEY)")
        }
        return try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))
    }

    static func derBytes(pem: String, label: String) -> [UInt8]? {
        let begin = "-----BEGIN \(label)-----", end = "-----END \(label)-----"
        guard let from = pem.range(of: begin), let to = pem.range(of: end, range: from.upperBound..<pem.endIndex) else {
            return nil
        }
        let body = pem[from.upperBound..<to.lowerBound].filter { !$0.isWhitespace }
        return Data(base64Encoded: String(body)).map(Array.init)
    }

    static func pem(label: String, der: [UInt8]) -> String {
        let base64 = Data(der).base64EncodedString()
        var lines = ["-----BEGIN \(label)-----"]
        var index = base64.startIndex
        while index < base64.endIndex {
            let next = base64.index(index, offsetBy: 64, limitedBy: base64.endIndex) ?? base64.endIndex
            lines.append(String(base64[index..<next]))
            index = next
        }
        lines.append("-----END \(label)-----")
        return lines.joined(separator: "\n") + "\n"
    }
}
