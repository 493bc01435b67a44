@testable import Delivery
import Foundation
import MailCore
import MailStore
import PetrelTestSupport
import Testing

/// Keys in the database (DKIMKeyStore) and what the queue worker signs with them
/// (OutboundSigner): the sender's domain's newest active key of each algorithm, only for mail
/// local users submitted.
@Suite struct OutboundSignerTests {
    static let message = Array("From: ann@example.test\r\nTo: bob@peer.test\r\nSubject: hi\r\n\r\nhello\r\n".utf8)

    static func store(_ database: Database, _ domain: String, _ selector: String, _ algorithm: DKIMPrivateKey.Algorithm,
                      active: Bool = true) async throws -> DKIMPrivateKey {
        let key = try DKIMPrivateKey.generate(algorithm)
        _ = try await DKIMKeyStore(database: database).add(domain: try DomainName(domain), selector: selector,
                                                           algorithm: algorithm.rawValue, privateKey: key.pemRepresentation,
                                                           active: active)
        return key
    }

    static func selectors(_ outcome: OutboundSigner.Outcome) -> [String]? {
        if case .message(_, let selectors) = outcome { return selectors }
        return nil
    }

    @Test func signsSubmittedMailWithTheSendersNewestActiveKeys() async throws {
        try await TestDatabase.withMigrated { database in
            let directory = Directory(database: database)
            try await directory.addDomain(try DomainName("example.test"))
            try await directory.addDomain(try DomainName("other.test"))
            let signer = OutboundSigner(database: database)
            // No key yet: sent unchanged.
            #expect(Self.selectors(try await signer.sign(Self.message, sender: "ann@example.test", submitted: true)) == [])

            _ = try await Self.store(database, "example.test", "old", .rsaSHA256)
            try await Task.sleep(for: .milliseconds(5))
            _ = try await Self.store(database, "example.test", "new", .rsaSHA256)
            _ = try await Self.store(database, "example.test", "ed", .ed25519SHA256)
            _ = try await Self.store(database, "example.test", "later", .ed25519SHA256, active: false)
            let outcome = try await signer.sign(Self.message, sender: "Ann@Example.TEST", submitted: true)
            #expect(Self.selectors(outcome)?.sorted() == ["ed", "new"])
            if case .message(let signed, _) = outcome {
                #expect(signed.count > Self.message.count && Array(signed.suffix(Self.message.count)) == Self.message)
                #expect(String(decoding: signed, as: UTF8.self).hasPrefix("DKIM-Signature: v=1;"))
            }
            // Relayed or bounced mail, and other domains, are not signed.
            #expect(Self.selectors(try await signer.sign(Self.message, sender: "ann@example.test", submitted: false)) == [])
            #expect(Self.selectors(try await signer.sign(Self.message, sender: "", submitted: true)) == [])
            #expect(Self.selectors(try await signer.sign(Self.message, sender: "x@other.test", submitted: true)) == [])
            // An internationalised domain's keys are found from its U-label as well.
            try await directory.addDomain(try DomainName("bücher.test"))
            _ = try await Self.store(database, "xn--bcher-kva.test", "idn", .ed25519SHA256)
            #expect(Self.selectors(try await signer.sign(Self.message, sender: "ann@bücher.test", submitted: true)) == ["idn"])

            // Deactivating the newest RSA key falls back to the older active one.
            let keys = DKIMKeyStore(database: database)
            try await keys.setActive(domain: try DomainName("example.test"), selector: "new", false)
            #expect(try await keys.signingKeys(domain: "example.test").map(\.selector).sorted() == ["ed", "old"])
        }
    }

    @Test func aKeyThatNoLongerLoadsHoldsTheMailBack() async throws {
        try await TestDatabase.withMigrated { database in
            try await Directory(database: database).addDomain(try DomainName("example.test"))
            _ = try await DKIMKeyStore(database: database).add(domain: try DomainName("example.test"), selector: "bad",
                                                               algorithm: "rsa-sha256", privateKey: "not a key", active: true)
            let outcome = try await OutboundSigner(database: database).sign(Self.message, sender: "a@example.test", submitted: true)
            guard case .failed(let reason) = outcome else {
                Issue.record("expected a failure, got \(outcome)")
                return
            }
            #expect(reason.hasPrefix("4.7.0 DKIM key bad of example.test unusable"))
        }
    }

    @Test func theStoreRefusesWhatCannotBePublished() async throws {
        try await TestDatabase.withMigrated { database in
            try await Directory(database: database).addDomain(try DomainName("example.test"))
            let keys = DKIMKeyStore(database: database)
            let domain = try DomainName("example.test")
            _ = try await Self.store(database, "example.test", "s1", .ed25519SHA256)
            await #expect(throws: StoreError.self) {   // the same selector twice
                _ = try await Self.store(database, "example.test", "S1", .rsaSHA256)
            }
            await #expect(throws: StoreError.self) {   // no such domain
                _ = try await Self.store(database, "nowhere.test", "s1", .rsaSHA256)
            }
            for bad in ["", "-x", "x-", "a b", "a..b", "a_b", String(repeating: "a", count: 64), "a;b=c"] {
                #expect(throws: StoreError.self, "\(bad)") { try DKIMKeyStore.normaliseSelector(bad) }
            }
            #expect(try DKIMKeyStore.normaliseSelector("Mail.2026") == "mail.2026")
            await #expect(throws: StoreError.self) { try await keys.remove(domain: domain, selector: "nope") }
            try await keys.remove(domain: domain, selector: "s1")
            #expect(try await keys.keys(domain: domain).isEmpty)
            // Keys go with their domain.
            _ = try await Self.store(database, "example.test", "s2", .ed25519SHA256)
            try await Directory(database: database).removeDomain(domain, force: true)
            #expect(try await keys.keys().isEmpty)
        }
    }
}
