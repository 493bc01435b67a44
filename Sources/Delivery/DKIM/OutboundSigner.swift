import Foundation
import Logging
import MailCore
import MailStore

/// Signs outbound mail that local users submitted, with the keys of the envelope sender's
/// domain. The envelope sender is the domain to sign for because submission has checked that
/// the account owns that address (SMTP issue: `553 5.7.1` otherwise); a From field naming some
/// other domain hosted here is not signed for that domain, so one tenant cannot have mail
/// signed as another. Bounces (null sender) and relayed mail are not signed.
public struct OutboundSigner: Sendable {
    let keys: DKIMKeyStore
    let signer = DKIMSigner()

    public init(database: Database) {
        keys = DKIMKeyStore(database: database)
    }

    public enum Outcome: Sendable {
        /// The message to send: signed, or unchanged when its domain has no active key.
        case message([UInt8], selectors: [String])
        /// The domain has keys but signing failed (a key that no longer loads): sending unsigned
        /// could fail the domain's DMARC policy, so the message waits (the reason is its last error).
        case failed(String)
    }

    public func sign(_ raw: [UInt8], sender: String, submitted: Bool, time: Date = Date()) async throws -> Outcome {
        guard submitted, let at = sender.lastIndex(of: "@") else { return .message(raw, selectors: []) }
        // Keys are kept under the A-label form of a domain (an SMTPUTF8 sender may write the U-label).
        let written = String(sender[sender.index(after: at)...])
        let domain = (try? DomainName(written))?.ascii ?? written.lowercased()
        let records = try await keys.signingKeys(domain: domain)
        guard !records.isEmpty else { return .message(raw, selectors: []) }
        var signing: [DKIMSigner.Key] = []
        for record in records {
            guard let algorithm = DKIMPrivateKey.Algorithm(rawValue: record.algorithm) else { continue }
            do {
                let key = try DKIMPrivateKey(algorithm: algorithm, pem: record.privateKey)
                signing.append(DKIMSigner.Key(domain: record.domain, selector: record.selector, privateKey: key))
            } catch {
                return .failed("4.7.0 DKIM key \(record.selector) of \(record.domain) unusable: \(error)")
            }
        }
        do {
            let fields = try signer.signatureFields(for: raw, keys: signing, time: time)
            return .message(fields + raw, selectors: signing.map(\.selector))
        } catch DKIMSigner.SigningError.noFromField {
            // Nothing can be signed without a From field: sent as it is, as OpenDKIM does.
            return .message(raw, selectors: [])
        } catch {
            return .failed("4.7.0 \(error)")
        }
    }
}
