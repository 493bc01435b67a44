import MailCore
import MailStore
import PetrelTestSupport
import Testing

/// `Directory.directDelivery`, SMTP's one-query RCPT look-up, must answer `.account` only where
/// the full resolver would deliver to exactly that account, and step aside everywhere else.
@Suite struct DirectDeliveryTests {
    @Test func agreesWithTheResolver() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("local.test"))
            try await dir.addDomain(domain("group.test"), aliasOf: domain("local.test"))
            try await dir.addDomain(domain("off.test"))
            for user in ["plain", "kept", "dormant", "full"] {
                try await dir.addAccount(address("\(user)@local.test"), passwordHash: "{PLAIN}x")
            }
            try await dir.addAccount(address("someone@off.test"), passwordHash: "{PLAIN}x")
            try await dir.setDomainActive(domain("off.test"), false)
            try await dir.setAccountActive(address("dormant@local.test"), false)
            // An alias on an account's own address wins over the account (keep a copy, forward).
            try await dir.addAlias(AliasSource("kept@local.test"), targets: ["kept", "plain"])
            try await dir.addAlias(AliasSource("@local.test"), targets: ["plain"])
            try await dir.setQuota(address("full@local.test"), bytes: 1000, messages: nil)

            let plain = try await dir.directDelivery(address("plain@local.test"))
            guard case .account(let account) = plain else {
                Issue.record("plain account: \(plain)")
                return
            }
            #expect(account.address == "plain@local.test")
            #expect(account.accountID == (try await dir.account(address("plain@local.test"))).id)
            #expect(account.bytesLeft == nil && account.messagesLeft == nil)
            #expect(account == (try await dir.deliveryAccount(address("plain@local.test"))))

            guard case .account(let full) = try await dir.directDelivery(address("full@local.test")) else {
                Issue.record("account with a quota")
                return
            }
            #expect(full.bytesLeft == 1000)
            #expect(full == (try await dir.deliveryAccount(address("full@local.test"))))

            // Everything the resolver has more to say about is handed to it.
            for text in ["kept@local.test", "dormant@local.test", "nobody@local.test", "plain@group.test", "someone@off.test"] {
                #expect(try await dir.directDelivery(address(text)) == .resolve, "\(text)")
            }
            #expect(try await dir.directDelivery(address("anyone@elsewhere.test")) == .notOurs)

            // Where it answers .account, the resolver agrees.
            let resolved = try await AddressResolver(directory: dir).resolve(address("plain@local.test"))
            #expect(resolved.local.map(\.description) == ["plain@local.test"] && resolved.external.isEmpty)
            // And where it stepped aside, the resolver did not give that single account.
            let kept = try await AddressResolver(directory: dir).resolve(address("kept@local.test"))
            #expect(kept.local.map(\.description) == ["kept@local.test", "plain@local.test"])
        }
    }

    @Test func domainQuotaLimitsTheRoom() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("small.test"))
            try await dir.addAccount(address("a@small.test"), passwordHash: "{PLAIN}x", quotaBytes: 5000)
            try await dir.setDomainQuota(domain("small.test"), bytes: 3000, messages: 2)
            guard case .account(let a) = try await dir.directDelivery(address("a@small.test")) else {
                Issue.record("a@small.test")
                return
            }
            #expect(a.bytesLeft == 3000)
            #expect(a.messagesLeft == 2)
            #expect(a == (try await dir.deliveryAccount(address("a@small.test"))))
        }
    }

    /// The combined look-ups answer the access rules exactly as the single ones do.
    @Test func lookupsCarryTheAccessRules() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("local.test"))
            try await dir.addAccount(address("plain@local.test"), passwordHash: "{PLAIN}x")
            _ = try await dir.addAccessRule(kind: .recipient, pattern: "@local.test", action: .reject, reply: "closed")
            _ = try await dir.addAccessRule(kind: .recipient, pattern: "plain@local.test", action: .ok)
            _ = try await dir.addAccessRule(kind: .recipient, pattern: "abuse@", action: .ok)
            _ = try await dir.addAccessRule(kind: .sender, pattern: "@spam.test", action: .reject)
            _ = try await dir.addAccessRule(kind: .client, pattern: "10.0.0.0/8", action: .reject)
            _ = try await dir.addAccessRule(kind: .client, pattern: "10.1.0.0/16", action: .ok)

            let plain = try await dir.recipientLookup(address("plain@local.test"), ruleFor: "Plain@Local.TEST")
            #expect(plain.rule?.pattern == "plain@local.test" && plain.rule?.action == .ok)
            if case .account = plain.delivery {} else { Issue.record("plain: \(plain.delivery)") }
            let other = try await dir.recipientLookup(address("other@local.test"), ruleFor: "other@local.test")
            #expect(other.rule?.pattern == "@local.test" && other.rule?.reply == "closed" && other.delivery == .resolve)
            let abuse = try await dir.recipientLookup(address("abuse@elsewhere.test"), ruleFor: "abuse@elsewhere.test")
            #expect(abuse.rule?.pattern == "abuse@" && abuse.delivery == .notOurs)
            for text in ["plain@local.test", "other@local.test", "abuse@elsewhere.test", "x@elsewhere.test"] {
                let combined = try await dir.recipientLookup(address(text), ruleFor: text).rule
                #expect(combined == (try await dir.addressAccess(.recipient, address: text)), "\(text)")
            }
            #expect(try await dir.recipientLookup(address("x@elsewhere.test"), ruleFor: nil).rule == nil)

            let both = try await dir.mailAccess(ip: "10.1.2.3", sender: "bot@SPAM.test")
            #expect(both.client?.pattern == "10.1.0.0/16" && both.client?.action == .ok)
            #expect(both.client == (try await dir.clientAccess(ip: "10.1.2.3")))
            #expect(both.sender?.pattern == "@spam.test" && both.sender?.action == .reject)
            let none = try await dir.mailAccess(ip: nil, sender: "friend@good.test")
            #expect(none.client == nil && none.sender == nil)
            #expect(try await dir.mailAccess(ip: "10.9.9.9", sender: nil).client?.pattern == "10.0.0.0/8")
        }
    }
}
