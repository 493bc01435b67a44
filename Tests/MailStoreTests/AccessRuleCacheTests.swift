import MailCore
import MailStore
import PetrelTestSupport
import Testing

/// The node's copy of the access rules: it must answer exactly as the table does, and a change
/// to the table (from any node or `petrel access`) must drop it.
@Suite struct AccessRuleCacheTests {
    @Test func theCopyAnswersAsTheTableDoes() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            // `10.1.2.3` and `10.1.2.3/32` name one network: the older rule answers, here and in SQL.
            for (pattern, action) in [("10.0.0.0/8", AccessAction.reject), ("10.1.0.0/16", .ok), ("10.1.2.3", .reject),
                                      ("10.1.2.3/32", .ok), ("2001:db8::/32", .reject), ("2001:db8:1::/48", .ok),
                                      ("192.0.2.0/24", .reject)] {
                _ = try await dir.addAccessRule(kind: .client, pattern: pattern, action: action, reply: pattern)
            }
            // An IPv4-mapped IPv6 network is stored as the IPv4 network it stands for.
            let mapped = try await dir.addAccessRule(kind: .client, pattern: "::ffff:198.51.100.0/120", action: .reject)
            #expect(mapped.pattern == "198.51.100.0/24")
            for (kind, pattern, action) in [(AccessRuleKind.sender, "@spam.test", AccessAction.reject),
                                            (.sender, "bot@spam.test", .ok), (.sender, "postmaster@", .ok),
                                            (.recipient, "@local.test", .reject), (.recipient, "plain@local.test", .ok),
                                            (.recipient, "abuse@", .ok), (.recipient, "@spam.test", .ok),
                                            (.sender, "jos\u{E9}@", .reject)] {
                _ = try await dir.addAccessRule(kind: kind, pattern: pattern, action: action)
            }
            let rules = try #require(AccessRuleSet(try await dir.accessRules()))
            #expect(rules.count == 16)

            // Most specific first, as a user of Postfix's access tables expects.
            #expect(rules.client(ip: "10.1.2.3")?.pattern == "10.1.2.3/32" && rules.client(ip: "10.1.2.3")?.action == .reject)
            #expect(rules.client(ip: "10.1.9.9")?.pattern == "10.1.0.0/16")
            #expect(rules.client(ip: "10.200.0.1")?.pattern == "10.0.0.0/8")
            #expect(rules.client(ip: "2001:db8:1::5")?.action == .ok)
            #expect(rules.client(ip: "11.0.0.1") == nil)
            #expect(rules.address(.sender, "Bot@SPAM.test")?.action == .ok)
            #expect(rules.address(.sender, "other@spam.test")?.action == .reject)
            #expect(rules.address(.recipient, "bot@spam.test")?.pattern == "@spam.test")
            // An IPv4-mapped IPv6 client is the IPv4 address it carries.
            #expect(rules.client(ip: "::ffff:192.0.2.77")?.pattern == "192.0.2.0/24")
            #expect(rules.client(ip: "::ffff:198.51.100.7")?.pattern == "198.51.100.0/24")
            // Patterns compare byte for byte, as PostgreSQL's text does: a decomposed é is another name.
            #expect(rules.address(.sender, "jos\u{E9}@example.test")?.action == .reject)
            #expect(rules.address(.sender, "jose\u{301}@example.test") == nil)

            // And the same answers as the table, for every probe.
            for ip in ["10.1.2.3", "10.1.9.9", "10.200.0.1", "11.0.0.1", "2001:db8::1", "2001:db8:1::5", "2001:db9::1",
                       "192.0.2.77", "198.51.100.7", "127.0.0.1", "::1"] {
                #expect(rules.client(ip: ip) == (try await dir.clientAccess(ip: ip)), "\(ip)")
            }
            for text in ["bot@spam.test", "x@SPAM.test", "postmaster@anything.test", "plain@local.test", "other@local.test",
                         "abuse@elsewhere.test", "nobody@nowhere.test", "no-at-sign", "jos\u{E9}@example.test",
                         "jose\u{301}@example.test"] {
                for kind in [AccessRuleKind.sender, .recipient] {
                    #expect(rules.address(kind, text) == (try await dir.addressAccess(kind, address: text)), "\(kind) \(text)")
                }
            }
        }
    }

    @Test func aChangeToTheTableDropsTheCopy() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            _ = try await dir.addAccessRule(kind: .sender, pattern: "@spam.test", action: .reject)
            let hub = ChangeEventHub(database: database)
            let cache = hub.accessRules
            // Nobody listens yet: no copy, callers ask the database.
            #expect(try await cache.rules(from: dir) == nil)

            let listener = Task { await hub.run() }
            await hub.waitUntilListening()
            #expect(try await cache.rules(from: dir)?.address(.sender, "x@spam.test")?.action == .reject)
            #expect(cache.isLoaded)

            // Added by the CLI's code path: the announcement drops the copy, the next look-up sees it.
            _ = try await dir.addAccessRule(kind: .sender, pattern: "@phish.test", action: .reject, reply: "no")
            try await waitUntil("the copy is dropped after an add") { !cache.isLoaded }
            #expect(try await cache.rules(from: dir)?.address(.sender, "x@phish.test")?.reply == "no")

            // Changed behind Petrel's back, in SQL: the same.
            _ = try await database.client.query("UPDATE access_rules SET action = 'OK' WHERE pattern = '@spam.test'",
                                               logger: TestDatabase.logger)
            try await waitUntil("the copy is dropped after an UPDATE") { !cache.isLoaded }
            #expect(try await cache.rules(from: dir)?.address(.sender, "x@spam.test")?.action == .ok)
            _ = try await database.client.query("DELETE FROM access_rules", logger: TestDatabase.logger)
            try await waitUntil("the copy is dropped after a DELETE") { !cache.isLoaded }
            #expect(try await cache.rules(from: dir)?.count == 0)

            // The hub stops listening: the copy is no longer trusted.
            listener.cancel()
            await listener.value
            #expect(try await cache.rules(from: dir) == nil)
        }
    }

    @Test func anInvalidationOrANewListenDropsTheCopy() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            let cache = AccessRuleCache()
            cache.setListening(true)
            #expect(try await cache.rules(from: dir)?.count == 0)
            #expect(cache.isLoaded)
            cache.invalidate()
            #expect(!cache.isLoaded)
            // Regaining the LISTEN connection (announcements may have been missed) drops it too.
            _ = try await cache.rules(from: dir)
            cache.setListening(true)
            #expect(!cache.isLoaded)
        }
    }

    @Test func aCopyIsNeverOlderThanItsMaximumAge() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            // Listening by hand, so that nothing announces the change below to this copy.
            let cache = AccessRuleCache(maximumAge: .seconds(1))
            cache.setListening(true)
            #expect(try await cache.rules(from: dir)?.count == 0)
            _ = try await dir.addAccessRule(kind: .recipient, pattern: "abuse@", action: .ok)
            #expect(try await cache.rules(from: dir)?.count == 0)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try await cache.rules(from: dir)?.address(.recipient, "abuse@example.test")?.action == .ok)
        }
    }

    private func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<500 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting until \(what)")
    }
}
