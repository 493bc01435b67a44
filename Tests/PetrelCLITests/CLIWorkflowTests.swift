import Foundation
import MailStore
import PetrelTestSupport
import Testing

/// The admin CLI as a user drives it, against a real database given by PETREL_DATABASE_URL or
/// --database-url.
@Suite struct CLIWorkflowTests {
    struct Resolved: Decodable, Equatable {
        var address: String
        var deliverable: Bool
        var local: [String]
        var external: [String]
        var unresolved: [String]
        var path: [String]
    }

    @Test func domainUserAliasResolveAuth() async throws {
        try await TestDatabase.withEmpty { url in
            let env = ["PETREL_DATABASE_URL": PetrelProcess.urlString(url)]
            func petrel(_ args: String..., stdin: String? = nil) throws -> PetrelProcess.Result {
                try PetrelProcess.run(args, stdin: stdin, environment: env)
            }

            var r = try petrel("migrate")
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("applied 0001_directory.sql"))
            r = try petrel("migrate")
            #expect(r.status == 0 && r.stdout.contains("schema is current"), "\(r)")
            r = try petrel("check")
            #expect(r.status == 0 && r.stdout.contains("schema: current"), "\(r)")

            #expect(try petrel("domain", "add", "baidu.com").status == 0)
            r = try petrel("domain", "add", "group.com", "--alias-of", "baidu.com")
            #expect(r.status == 0 && r.stdout.contains("added alias domain group.com -> baidu.com"), "\(r)")
            r = try petrel("domain", "add", "work.com", "--alias-of", "qq.com")
            #expect(r.status == 0 && r.stdout.contains("qq.com is not a domain of this server"), "\(r)")

            r = try petrel("user", "add", "maomao@baidu.com", "--password-stdin", "--name", "Mao Mao", "--quota", "2G", stdin: "right pw\n")
            #expect(r.status == 0 && r.stdout.contains("added account maomao@baidu.com"), "\(r)")
            #expect(!r.stdout.contains("right pw") && !r.stderr.contains("right pw"))

            struct Mailbox: Decodable { var name: String; var specialUse: String? }
            r = try petrel("mailbox", "list", "maomao@baidu.com", "--json")
            let mailboxes = try JSONDecoder().decode([Mailbox].self, from: Data(r.stdout.utf8))
            #expect(mailboxes.map(\.name) == ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"], "\(r)")
            #expect(mailboxes.first { $0.name == "Sent" }?.specialUse == "\\Sent")

            r = try petrel("alias", "add", "123@group.com", "maomao", "xixi")
            #expect(r.status == 0 && r.stdout.contains("123@group.com -> maomao@group.com, xixi@group.com"), "\(r)")
            r = try petrel("alias", "add", "234@work.com", "doudou@work.com,xiaodou@work.com")
            #expect(r.status == 0, "\(r)")

            r = try petrel("resolve", "123@group.com", "--json")
            #expect(r.status == 0, "\(r)")
            let resolved = try JSONDecoder().decode(Resolved.self, from: Data(r.stdout.utf8))
            #expect(resolved.local == ["maomao@baidu.com"])
            #expect(resolved.external.isEmpty)
            #expect(resolved.unresolved == ["xixi@baidu.com"])
            #expect(resolved.path.first == "123@group.com: alias -> maomao@group.com, xixi@group.com")

            r = try petrel("resolve", "234@work.com", "--json")
            #expect(try JSONDecoder().decode(Resolved.self, from: Data(r.stdout.utf8)).external == ["doudou@qq.com", "xiaodou@qq.com"])
            r = try petrel("resolve", "234@work.com")
            #expect(r.status == 0 && r.stdout.contains("external:   doudou@qq.com, xiaodou@qq.com"), "\(r)")

            r = try petrel("resolve", "nobody@baidu.com", "--json")
            #expect(r.status == 1, "\(r)")
            #expect(r.stderr.contains("nobody@baidu.com: unknown address"))
            #expect(try JSONDecoder().decode(Resolved.self, from: Data(r.stdout.utf8)).deliverable == false)

            r = try petrel("auth", "test", "maomao@baidu.com", stdin: "right pw\n")
            #expect(r.status == 0 && r.stdout.contains("accepted: maomao@baidu.com (backend sql, scheme ARGON2ID)"), "\(r)")
            r = try petrel("auth", "test", "MaoMao@Baidu.com", stdin: "right pw\n")
            #expect(r.status == 0, "\(r)")
            r = try petrel("auth", "test", "maomao@baidu.com", stdin: "wrong pw\n")
            #expect(r.status == 1 && r.stderr.contains("rejected"), "\(r)")
            r = try petrel("auth", "test", "ghost@baidu.com", stdin: "right pw\n")
            #expect(r.status == 1 && r.stderr.contains("rejected"), "\(r)")

            r = try petrel("user", "passwd", "maomao@baidu.com", "--password-stdin", stdin: "new pw\n")
            #expect(r.status == 0, "\(r)")
            #expect(try petrel("auth", "test", "maomao@baidu.com", stdin: "right pw\n").status == 1)
            #expect(try petrel("auth", "test", "maomao@baidu.com", stdin: "new pw\n").status == 0)

            r = try petrel("user", "disable", "maomao@baidu.com")
            #expect(r.status == 0)
            #expect(try petrel("auth", "test", "maomao@baidu.com", stdin: "new pw\n").status == 1)
            #expect(try petrel("resolve", "maomao@baidu.com").status == 1)
            #expect(try petrel("user", "enable", "maomao@baidu.com").status == 0)
            #expect(try petrel("auth", "test", "maomao@baidu.com", stdin: "new pw\n").status == 0)

            struct Domain: Decodable { var name: String; var aliasOf: String?; var accounts: Int }
            r = try petrel("domain", "list", "--json")
            let domains = try JSONDecoder().decode([Domain].self, from: Data(r.stdout.utf8))
            #expect(domains.map(\.name) == ["baidu.com", "group.com", "work.com"])
            #expect(domains.first?.accounts == 1)
            #expect(domains.last?.aliasOf == "qq.com")
            r = try petrel("domain", "list")
            #expect(r.stdout.contains("DOMAIN") && r.stdout.contains("group.com  alias"), "\(r)")

            struct Account: Decodable { var address: String; var displayName: String; var quotaBytes: Int64; var passwordScheme: String }
            r = try petrel("user", "list", "baidu.com", "--json")
            let accounts = try JSONDecoder().decode([Account].self, from: Data(r.stdout.utf8))
            #expect(accounts.map(\.address) == ["maomao@baidu.com"])
            #expect(accounts.first?.displayName == "Mao Mao" && accounts.first?.quotaBytes == 2 << 30)
            #expect(!r.stdout.contains("argon2id$"), "hashes never leave the database through the CLI")

            r = try petrel("quota", "set", "maomao@baidu.com", "--storage", "500M", "--messages", "1000")
            #expect(r.status == 0, "\(r)")
            struct Quota: Decodable { var address: String; var quotaBytes: Int64; var quotaMessages: Int64 }
            r = try petrel("quota", "show", "maomao@baidu.com", "--json")
            let quota = try JSONDecoder().decode([Quota].self, from: Data(r.stdout.utf8))
            #expect(quota.first?.quotaBytes == 500 << 20 && quota.first?.quotaMessages == 1000, "\(r)")

            struct Alias: Decodable { var address: String; var targets: [String] }
            r = try petrel("alias", "list", "--json")
            #expect(try JSONDecoder().decode([Alias].self, from: Data(r.stdout.utf8)).map(\.address) == ["123@group.com", "234@work.com"])
            #expect(try petrel("alias", "remove", "123@group.com", "xixi").status == 0)
            #expect(try JSONDecoder().decode(Resolved.self, from: Data(try petrel("resolve", "123@group.com", "--json").stdout.utf8)).unresolved.isEmpty)

            r = try petrel("domain", "remove", "baidu.com")
            #expect(r.status == 1 && r.stderr.contains("--force"), "\(r)")
            r = try petrel("domain", "remove", "baidu.com", "--force")
            #expect(r.status == 0 && r.stdout.contains("1 account(s)") && r.stdout.contains("group.com"), "\(r)")
            #expect(try petrel("resolve", "maomao@baidu.com", "--json").status == 0, "baidu.com is now external")
        }
    }

    @Test func databaseURLFlagAndImportedHashes() async throws {
        try await TestDatabase.withEmpty { url in
            let flag = ["--database-url", PetrelProcess.urlString(url)]
            func petrel(_ args: [String], stdin: String? = nil) throws -> PetrelProcess.Result {
                try PetrelProcess.run(args + flag, stdin: stdin)
            }
            #expect(try petrel(["migrate"]).status == 0)
            #expect(try petrel(["domain", "add", "qq.com"]).status == 0)
            // Hashes from other systems are imported unchanged and verify with their scheme
            // (made with `openssl passwd -6 'correct horse battery staple'`, as in the fixtures).
            let hash = "$6$A9SYs/riUbZxBfrX$eP6WJlX6PgrQmWwu5U0QFH/4sPUmj2P7Xn2.FWlHsed5DhAm.dWmUUyySXrmyBIRkzkCaefIRe//Tbcs29X2O0"
            var r = try petrel(["user", "add", "doudou@qq.com", "--password-hash", hash])
            #expect(r.status == 0, "\(r)")
            r = try petrel(["auth", "test", "doudou@qq.com"], stdin: "correct horse battery staple\n")
            #expect(r.status == 0 && r.stdout.contains("scheme SHA512-CRYPT, legacy: rehashed to ARGON2ID"), "\(r)")
            r = try petrel(["user", "add", "lisi@qq.com", "--password-hash", "{NTLM}0123"])
            #expect(r.status == 1 && r.stderr.contains("unsupported scheme"), "\(r)")
            // The login left an Argon2id hash behind (rehash on login).
            r = try petrel(["user", "show", "doudou@qq.com"])
            #expect(r.status == 0 && r.stdout.contains("ARGON2ID") && !r.stdout.contains("SHA512-CRYPT"), "\(r)")
            r = try petrel(["auth", "test", "doudou@qq.com"], stdin: "correct horse battery staple\n")
            #expect(r.status == 0 && r.stdout.contains("(backend sql, scheme ARGON2ID)"), "\(r)")
        }
    }
}
