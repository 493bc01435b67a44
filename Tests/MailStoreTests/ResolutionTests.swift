import MailCore
import MailStore
import PetrelTestSupport
import Testing

/// Address resolution against the real directory, starting with the seeds' Postfix tables
/// (shared/seeds/003: `/etc/postfix/virtual` on baidu's and on qq's server, `/etc/aliases`).
@Suite struct ResolutionTests {
    static func resolve(_ dir: Directory, _ text: String, limits: ResolutionLimits = .default) async throws -> Resolution {
        try await AddressResolver(directory: dir, limits: limits).resolve(EmailAddress(text))
    }

    static func strings(_ list: [EmailAddress]) -> [String] { list.map(\.description) }

    /// baidu's server: virtual_alias_domains = group.com, work.com; baidu.com is local.
    ///   @group.com @baidu.com / @work.com @qq.com
    ///   admin@group.com  maomao,xixi,redhat,doudou@work.com,xiaodou,dadou@work.com,doudou@work.com,xiaodou@work.com
    ///   123@group.com    maomao,xixi
    ///   234@work.com     doudou@work.com,xiaodou@work.com
    /// and /etc/aliases:  workgroup: maomao,xixi,redhat / workgroup1: redhat,xixi
    @Test func seedBaiduServer() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("baidu.com"))
            try await dir.addDomain(domain("group.com"), aliasOf: domain("baidu.com"))
            try await dir.addDomain(domain("work.com"), aliasOf: domain("qq.com"))
            for user in ["maomao", "xixi", "redhat", "haha"] {
                try await dir.addAccount(address("\(user)@baidu.com"), passwordHash: "{PLAIN}x")
            }
            try await dir.addAlias(AliasSource("admin@group.com"), targets: [
                "maomao", "xixi", "redhat", "doudou@work.com", "xiaodou", "dadou@work.com", "doudou@work.com", "xiaodou@work.com"])
            try await dir.addAlias(AliasSource("123@group.com"), targets: ["maomao", "xixi"])
            try await dir.addAlias(AliasSource("234@work.com"), targets: ["doudou@work.com", "xiaodou@work.com"])
            try await dir.addAlias(AliasSource("workgroup@baidu.com"), targets: ["maomao", "xixi", "redhat"])
            try await dir.addAlias(AliasSource("workgroup1@baidu.com"), targets: ["redhat", "xixi"])

            let r123 = try await Self.resolve(dir, "123@group.com")
            #expect(Self.strings(r123.local) == ["maomao@baidu.com", "xixi@baidu.com"])
            #expect(r123.external.isEmpty)

            let admin = try await Self.resolve(dir, "admin@group.com")
            #expect(Self.strings(admin.local) == ["maomao@baidu.com", "xixi@baidu.com", "redhat@baidu.com"])
            #expect(Self.strings(admin.external) == ["doudou@qq.com", "dadou@qq.com", "xiaodou@qq.com"])
            // The bare `xiaodou` is xiaodou@group.com = xiaodou@baidu.com, which has no account.
            #expect(admin.unresolved == ["xiaodou@baidu.com"])

            let r234 = try await Self.resolve(dir, "234@work.com")
            #expect(r234.local.isEmpty)
            #expect(Self.strings(r234.external) == ["doudou@qq.com", "xiaodou@qq.com"])

            #expect(Self.strings(try await Self.resolve(dir, "anyone@work.com").external) == ["anyone@qq.com"])
            #expect(Self.strings(try await Self.resolve(dir, "maomao@group.com").local) == ["maomao@baidu.com"])
            #expect(try await Self.resolve(dir, "nobody@group.com").isDeliverable == false)
            #expect(try await Self.resolve(dir, "nobody@baidu.com").isDeliverable == false)

            // /etc/aliases groups.
            #expect(Self.strings(try await Self.resolve(dir, "workgroup@baidu.com").local) == ["maomao@baidu.com", "xixi@baidu.com", "redhat@baidu.com"])
            #expect(Self.strings(try await Self.resolve(dir, "workgroup1@baidu.com").local) == ["redhat@baidu.com", "xixi@baidu.com"])
            #expect(Self.strings(try await Self.resolve(dir, "workgroup@group.com").local) == ["maomao@baidu.com", "xixi@baidu.com", "redhat@baidu.com"])

            // The trace says how: alias, then the domain-alias rewrite, then the account.
            let trace = r123.trace.map(\.description)
            #expect(trace.first == "123@group.com: alias -> maomao@group.com, xixi@group.com")
            #expect(trace.contains("  maomao@group.com: domain alias group.com -> baidu.com"))
            #expect(trace.contains("    maomao@baidu.com: local account"))
        }
    }

    /// qq's server: qq.com is local, work.com its alias domain, group.com forwards to baidu.com.
    ///   123@group.com    maomao@group.com,xixi@group.com
    ///   234@work.com     doudou,xiaodou
    ///   admin@group.com  maomao@group.com,xixi@group.com,redhat@group.com,dadou,doudou,xiaodou
    @Test func seedQQServer() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("qq.com"))
            try await dir.addDomain(domain("work.com"), aliasOf: domain("qq.com"))
            try await dir.addDomain(domain("group.com"), aliasOf: domain("baidu.com"))
            for user in ["doudou", "xiaodou", "dadou", "zhangsan", "lisi", "wangwu"] {
                try await dir.addAccount(address("\(user)@qq.com"), passwordHash: "{PLAIN}x")
            }
            try await dir.addAlias(AliasSource("123@group.com"), targets: ["maomao@group.com", "xixi@group.com"])
            try await dir.addAlias(AliasSource("234@work.com"), targets: ["doudou", "xiaodou"])
            try await dir.addAlias(AliasSource("admin@group.com"), targets: [
                "maomao@group.com", "xixi@group.com", "redhat@group.com", "dadou", "doudou", "xiaodou"])

            let r234 = try await Self.resolve(dir, "234@work.com")
            #expect(Self.strings(r234.local) == ["doudou@qq.com", "xiaodou@qq.com"])
            #expect(r234.external.isEmpty)

            let r123 = try await Self.resolve(dir, "123@group.com")
            #expect(r123.local.isEmpty)
            #expect(Self.strings(r123.external) == ["maomao@baidu.com", "xixi@baidu.com"])

            // Bare targets mean the alias's own domain (group.com), which forwards to baidu.com.
            let admin = try await Self.resolve(dir, "admin@group.com")
            #expect(Self.strings(admin.external) == ["maomao@baidu.com", "xixi@baidu.com", "redhat@baidu.com",
                                                    "dadou@baidu.com", "doudou@baidu.com", "xiaodou@baidu.com"])
            #expect(Self.strings(try await Self.resolve(dir, "lisi@work.com").local) == ["lisi@qq.com"])
        }
    }

    @Test func loopsAndKeptCopies() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("d.test"))
            try await dir.addAccount(address("a@d.test"), passwordHash: "{PLAIN}x")
            try await dir.addAccount(address("keep@d.test"), passwordHash: "{PLAIN}x")
            try await dir.addAlias(AliasSource("a@d.test"), targets: ["b@d.test"])
            try await dir.addAlias(AliasSource("b@d.test"), targets: ["a@d.test"])
            // a -> b -> a: the loop stops at a, which is an account.
            let loop = try await Self.resolve(dir, "a@d.test")
            #expect(Self.strings(loop.local) == ["a@d.test"])
            #expect(loop.trace.contains { $0.rule == .loop })
            // x -> y -> z -> x with no accounts: nowhere to go.
            try await dir.addAlias(AliasSource("x@d.test"), targets: ["y@d.test"])
            try await dir.addAlias(AliasSource("y@d.test"), targets: ["z@d.test"])
            try await dir.addAlias(AliasSource("z@d.test"), targets: ["x@d.test"])
            #expect(try await Self.resolve(dir, "x@d.test").isDeliverable == false)
            // An alias listing itself keeps a copy and forwards.
            try await dir.addAlias(AliasSource("keep@d.test"), targets: ["keep@d.test", "far@remote.test"])
            let keep = try await Self.resolve(dir, "keep@d.test")
            #expect(Self.strings(keep.local) == ["keep@d.test"])
            #expect(Self.strings(keep.external) == ["far@remote.test"])
            #expect(keep.trace.contains { $0.rule == .keptCopy })
        }
    }

    @Test func inactiveDomainsAndRewriteLoops() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("baidu.com"))
            try await dir.addDomain(domain("group.com"), aliasOf: domain("baidu.com"))
            try await dir.addAccount(address("a@baidu.com"), passwordHash: "{PLAIN}x")
            // a@baidu.com -> a@group.com (= a@baidu.com again) and an outside copy: the account keeps one.
            try await dir.addAlias(AliasSource("a@baidu.com"), targets: ["a@group.com", "x@ext.test"])
            let loop = try await Self.resolve(dir, "a@baidu.com")
            #expect(Self.strings(loop.local) == ["a@baidu.com"])
            #expect(Self.strings(loop.external) == ["x@ext.test"])

            // A switched-off domain of ours is neither deliverable nor external, and its aliases are off.
            try await dir.addDomain(domain("off.test"))
            try await dir.addAccount(address("u@off.test"), passwordHash: "{PLAIN}x")
            try await dir.addAlias(AliasSource("list@off.test"), targets: ["far@ext.test"])
            try await dir.addAlias(AliasSource("fwd@baidu.com"), targets: ["u@off.test"])
            try await dir.setDomainActive(domain("off.test"), false)
            #expect(try await Self.resolve(dir, "u@off.test").isDeliverable == false)
            #expect(try await Self.resolve(dir, "list@off.test").isDeliverable == false)
            let fwd = try await Self.resolve(dir, "fwd@baidu.com")
            #expect(fwd.external.isEmpty && fwd.unresolved == ["u@off.test"])
        }
    }

    @Test func boundsOnDepthAndFanOut() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("d.test"))
            for i in 0..<25 { try await dir.addAlias(AliasSource("c\(i)@d.test"), targets: ["c\(i + 1)@d.test"]) }
            try await dir.addAccount(address("c25@d.test"), passwordHash: "{PLAIN}x")
            await #expect(throws: ResolutionError.self) { try await Self.resolve(dir, "c0@d.test") }
            // Within a deeper limit the same chain resolves.
            let deep = ResolutionLimits(maximumDepth: 30)
            #expect(Self.strings(try await Self.resolve(dir, "c0@d.test", limits: deep).local) == ["c25@d.test"])

            try await dir.addAlias(AliasSource("wide@d.test"), targets: (0..<11).map { "w\($0)@remote.test" })
            let narrow = ResolutionLimits(maximumTargets: 10)
            await #expect(throws: ResolutionError.tooManyTargets(limit: 10)) { try await Self.resolve(dir, "wide@d.test", limits: narrow) }
            #expect(try await Self.resolve(dir, "wide@d.test").external.count == 11)
        }
    }

    @Test func precedenceCatchAllAndSubaddresses() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("d.test"))
            try await dir.addAccount(address("real@d.test"), passwordHash: "{PLAIN}x")
            try await dir.addAccount(address("both@d.test"), passwordHash: "{PLAIN}x")
            try await dir.addAccount(address("catchall@d.test"), passwordHash: "{PLAIN}x")
            try await dir.addAlias(AliasSource("@d.test"), targets: ["catchall"])
            try await dir.addAlias(AliasSource("both@d.test"), targets: ["fwd@remote.test"])
            try await dir.addAlias(AliasSource("real+special@d.test"), targets: ["fwd2@remote.test"])

            // An account beats the catch-all; anything unknown goes to the catch-all.
            #expect(Self.strings(try await Self.resolve(dir, "real@d.test").local) == ["real@d.test"])
            #expect(Self.strings(try await Self.resolve(dir, "whoever@d.test").local) == ["catchall@d.test"])
            // An exact alias beats the account of the same address.
            let both = try await Self.resolve(dir, "both@d.test")
            #expect(both.local.isEmpty && Self.strings(both.external) == ["fwd@remote.test"])
            // Subaddresses: the tag is dropped to find the account; an exact tagged alias wins.
            #expect(Self.strings(try await Self.resolve(dir, "real+news@d.test").local) == ["real@d.test"])
            #expect(Self.strings(try await Self.resolve(dir, "real+special@d.test").external) == ["fwd2@remote.test"])
            // With subaddressing off, a tagged address is just unknown (and here caught by the catch-all).
            let off = ResolutionLimits(subaddressDelimiters: [])
            #expect(Self.strings(try await Self.resolve(dir, "real+news@d.test", limits: off).local) == ["catchall@d.test"])
            // Inactive accounts and aliases count as absent.
            try await dir.setAccountActive(address("real@d.test"), false)
            #expect(Self.strings(try await Self.resolve(dir, "real@d.test").local) == ["catchall@d.test"])
            try await dir.setAliasActive(AliasSource("@d.test"), false)
            #expect(try await Self.resolve(dir, "real@d.test").isDeliverable == false)
        }
    }

    @Test func caseAndIDNA() async throws {
        try await TestDatabase.withMigrated { database in
            let dir = Directory(database: database)
            try await dir.addDomain(domain("MÜNCHEN.example"))
            try await dir.addDomain(domain("xn--r8jz45g.xn--zckzah"), aliasOf: domain("münchen.example"))
            try await dir.addAccount(address("Hans@münchen.example"), passwordHash: "{PLAIN}x")
            #expect(Self.strings(try await Self.resolve(dir, "HANS@xn--mnchen-3ya.EXAMPLE").local) == ["hans@xn--mnchen-3ya.example"])
            #expect(Self.strings(try await Self.resolve(dir, "hans@例え.テスト").local) == ["hans@xn--mnchen-3ya.example"])
            // A domain that is not ours is external, whatever its case.
            #expect(Self.strings(try await Self.resolve(dir, "Someone@Remote.TEST").external) == ["someone@remote.test"])
        }
    }
}
