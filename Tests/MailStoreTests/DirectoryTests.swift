import MailCore
import MailStore
import PetrelTestSupport
import PostgresNIO
import Testing

func domain(_ s: String) throws -> DomainName { try DomainName(s) }
func address(_ s: String) throws -> EmailAddress { try EmailAddress(s) }

@Suite struct DirectoryTests {
    @Test func domainsAndAliasDomains() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("baidu.com"))
            try await dir.addDomain(domain("group.com"), aliasOf: domain("baidu.com"))
            let group = try await dir.domain(domain("GROUP.com"))
            #expect(group.aliasOf == "baidu.com")
            #expect(try await dir.domain(domain("baidu.com")).aliasDomains == ["group.com"])

            await #expect(throws: StoreError(.alreadyExists, "domain baidu.com already exists")) {
                try await dir.addDomain(domain("Baidu.com"))
            }
            // No chains: an alias domain may not point at an alias domain...
            let chain = await #expect(throws: StoreError.self) { try await dir.addDomain(domain("chain.com"), aliasOf: domain("group.com")) }
            #expect(chain?.kind == .conflict)
            // ...nor at itself...
            let selfAlias = await #expect(throws: StoreError.self) { try await dir.addDomain(domain("self.com"), aliasOf: domain("self.com")) }
            #expect(selfAlias?.kind == .conflict)
            // ...and a domain others point at may not become an alias domain (even by raw SQL).
            try await dir.addDomain(domain("other.com"))
            await #expect(throws: (any Error).self) {
                try await database.client.query("UPDATE domains SET alias_target = 'other.com' WHERE name = 'baidu.com'", logger: TestDatabase.logger)
            }
            // The schema refuses non-canonical names whoever writes them.
            await #expect(throws: (any Error).self) {
                try await database.client.query("INSERT INTO domains (name) VALUES ('UPPER.com')", logger: TestDatabase.logger)
            }
        }
    }

    @Test func accounts() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("baidu.com"))
            try await dir.addDomain(domain("group.com"), aliasOf: domain("baidu.com"))
            let a = try await dir.addAccount(address("MaoMao@Baidu.com"), passwordHash: "{SHA512-CRYPT}$6$x$y", displayName: "Mao")
            #expect(a.address == "maomao@baidu.com")
            #expect(a.passwordScheme == "SHA512-CRYPT")
            await #expect(throws: StoreError(.alreadyExists, "account maomao@baidu.com already exists")) {
                try await dir.addAccount(address("MAOMAO@baidu.com"), passwordHash: "{PLAIN}x")
            }
            let inAlias = await #expect(throws: StoreError.self) { try await dir.addAccount(address("x@group.com"), passwordHash: "{PLAIN}x") }
            #expect(inAlias?.kind == .conflict)
            await #expect(throws: StoreError(.notFound, "domain nowhere.test does not exist")) {
                try await dir.addAccount(address("x@nowhere.test"), passwordHash: "{PLAIN}x")
            }
            try await dir.setQuota(address("maomao@baidu.com"), bytes: 1 << 30, messages: nil)
            try await dir.setAccountActive(address("maomao@baidu.com"), false)
            let updated = try await dir.account(address("maomao@baidu.com"))
            #expect(updated.quotaBytes == 1 << 30 && updated.quotaMessages == 0 && !updated.active)
            #expect(try await dir.credentials(address("maomao@baidu.com"))?.active == false)
            try await dir.removeAccount(address("maomao@baidu.com"))
            #expect(try await dir.credentials(address("maomao@baidu.com")) == nil)
            await #expect(throws: StoreError.self) { try await dir.removeAccount(address("maomao@baidu.com")) }
        }
    }

    @Test func aliases() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("baidu.com"))
            let a = try await dir.addAlias(AliasSource("workgroup@baidu.com"), targets: ["maomao", "XiXi", "redhat@baidu.com"])
            #expect(a.targets == ["maomao@baidu.com", "xixi@baidu.com", "redhat@baidu.com"])
            // Adding to an existing alias appends, keeping each target once.
            let b = try await dir.addAlias(AliasSource("workgroup@baidu.com"), targets: ["xixi", "haha@remote.test"])
            #expect(b.targets == ["maomao@baidu.com", "xixi@baidu.com", "redhat@baidu.com", "haha@remote.test"])
            try await dir.removeAlias(AliasSource("workgroup@baidu.com"), targets: ["maomao"])
            #expect(try await dir.alias(AliasSource("workgroup@baidu.com")).targets.count == 3)
            await #expect(throws: StoreError.self) { try await dir.removeAlias(AliasSource("workgroup@baidu.com"), targets: ["nobody"]) }
            try await dir.addAlias(AliasSource("@baidu.com"), targets: ["postmaster"])
            #expect(try await dir.aliases(domain: domain("baidu.com")).map(\.address) == ["@baidu.com", "workgroup@baidu.com"])
            let bad = await #expect(throws: StoreError.self) { try await dir.addAlias(AliasSource("x@baidu.com"), targets: ["not an address"]) }
            #expect(bad?.kind == .invalid)
            await #expect(throws: StoreError.self) { try await dir.addAlias(AliasSource("x@unknown.test"), targets: ["a@b.test"]) }
            try await dir.removeAlias(AliasSource("workgroup@baidu.com"))
            await #expect(throws: StoreError.self) { try await dir.alias(AliasSource("workgroup@baidu.com")) }
        }
    }

    @Test func removingADomainNeedsForceWhileInUse() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("baidu.com"))
            try await dir.addDomain(domain("group.com"), aliasOf: domain("baidu.com"))
            try await dir.addAccount(address("maomao@baidu.com"), passwordHash: "{PLAIN}x")
            try await dir.addAlias(AliasSource("123@group.com"), targets: ["maomao"])
            try await dir.addAlias(AliasSource("all@baidu.com"), targets: ["maomao"])
            let refused = await #expect(throws: StoreError.self) { try await dir.removeDomain(domain("baidu.com"), force: false) }
            #expect(refused?.kind == .conflict)
            #expect(refused?.message.contains("1 account(s)") == true)
            #expect(refused?.message.contains("group.com") == true)
            #expect(try await dir.domains().count == 2)
            // Plain SQL cannot orphan rows either.
            await #expect(throws: (any Error).self) {
                try await database.client.query("DELETE FROM domains WHERE name = 'baidu.com'", logger: TestDatabase.logger)
            }
            let removal = try await dir.removeDomain(domain("baidu.com"), force: true)
            #expect(removal == DomainRemoval(domain: "baidu.com", accounts: 1, aliases: 1, aliasDomains: ["group.com"]))
            #expect(try await dir.domains().isEmpty)
            #expect(try await dir.aliases().isEmpty)
            #expect(try await dir.accounts().isEmpty)
            // An empty domain goes without --force.
            try await dir.addDomain(domain("empty.test"))
            try await dir.removeDomain(domain("empty.test"), force: false)
        }
    }
}
