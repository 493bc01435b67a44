import Foundation
import MailStore
import PetrelTestSupport
import Testing

/// Bad input and broken surroundings give one clear line on stderr and a non-zero exit.
@Suite struct CLIErrorTests {
    @Test func badInputAgainstAMigratedDatabase() async throws {
        try await TestDatabase.withEmpty { url in
            let env = ["PETREL_DATABASE_URL": PetrelProcess.urlString(url)]
            func petrel(_ args: String..., stdin: String? = nil) throws -> PetrelProcess.Result {
                try PetrelProcess.run(args, stdin: stdin, environment: env)
            }
            // Before migrating, admin commands say what to do.
            var r = try petrel("domain", "list")
            #expect(r.status == 1 && r.stderr.contains("run `petrel migrate`"), "\(r)")
            r = try petrel("check")
            #expect(r.status == 1 && r.stderr.contains("pending"), "\(r)")
            #expect(try petrel("migrate").status == 0)

            r = try petrel("domain", "add", "bad_domain.test")
            #expect(r.status == 1 && r.stderr.contains("invalid domain 'bad_domain.test'"), "\(r)")
            r = try petrel("user", "add", "not-an-address", "--password-stdin", stdin: "pw\n")
            #expect(r.status == 1 && r.stderr.contains("invalid address 'not-an-address'"), "\(r)")
            r = try petrel("user", "add", "x@nowhere.test", "--password-stdin", stdin: "pw\n")
            #expect(r.status == 1 && r.stderr.contains("domain nowhere.test does not exist"), "\(r)")

            #expect(try petrel("domain", "add", "d.test").status == 0)
            r = try petrel("domain", "add", "D.TEST")
            #expect(r.status == 1 && r.stderr.contains("domain d.test already exists"), "\(r)")
            #expect(try petrel("user", "add", "u@d.test", "--password-stdin", stdin: "pw\n").status == 0)
            r = try petrel("user", "add", "U@d.test", "--password-stdin", stdin: "pw\n")
            #expect(r.status == 1 && r.stderr.contains("account u@d.test already exists"), "\(r)")
            r = try petrel("user", "add", "v@d.test", "--password-stdin", stdin: "\n")
            #expect(r.status == 1 && r.stderr.contains("empty"), "\(r)")
            r = try petrel("user", "add", "v@d.test")
            #expect(r.status == 1 && r.stderr.contains("--password-stdin"), "\(r)")
            r = try petrel("user", "add", "v@d.test", "--password-stdin", "--quota", "lots", stdin: "pw\n")
            #expect(r.status == 1 && r.stderr.contains("invalid size 'lots'"), "\(r)")
            r = try petrel("user", "remove", "ghost@d.test")
            #expect(r.status == 1 && r.stderr.contains("account ghost@d.test does not exist"), "\(r)")

            r = try petrel("domain", "add", "a.test", "--alias-of", "b.test")
            #expect(r.status == 0, "\(r)")
            r = try petrel("domain", "add", "c.test", "--alias-of", "a.test")
            #expect(r.status == 1 && r.stderr.contains("alias domain"), "\(r)")
            r = try petrel("user", "add", "u@a.test", "--password-stdin", stdin: "pw\n")
            #expect(r.status == 1 && r.stderr.contains("alias domain"), "\(r)")
            r = try petrel("alias", "add", "x@d.test")
            #expect(r.status != 0, "\(r)")
            r = try petrel("alias", "add", "x@d.test", "bad target")
            #expect(r.status == 1 && r.stderr.contains("alias target 'bad target'"), "\(r)")
            r = try petrel("resolve", "no-at-sign")
            #expect(r.status == 1 && r.stderr.contains("invalid address"), "\(r)")
            // An unknown subcommand or option is a usage error (ArgumentParser's exit 64).
            #expect(try petrel("domain", "frobnicate").status == 64)
        }
    }

    @Test func unreachableDatabaseIsNamed() throws {
        // Port 1 on loopback: nothing listens there.
        let r = try PetrelProcess.run(["domain", "list", "--database-url", "postgres://petrel@127.0.0.1:1/petrel"])
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("cannot reach the database at 127.0.0.1:1"), "\(r)")
        let env = try PetrelProcess.run(["check"], environment: ["PETREL_DATABASE_URL": "postgres://petrel@127.0.0.1:1/petrel"])
        #expect(env.status == 1 && env.stderr.contains("127.0.0.1:1"), "\(env)")
        let bad = try PetrelProcess.run(["domain", "list", "--database-url", "mysql://x@y/z"])
        #expect(bad.status == 1 && bad.stderr.contains("invalid database URL"), "\(bad)")
    }

    @Test func noDatabaseConfigured() throws {
        let r = try PetrelProcess.run(["domain", "list"])
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("no database configured") && r.stderr.contains("petrel dev"), "\(r)")
    }

    @Test func invalidConfigurationIsRefusedWithTheKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func check(_ yaml: String, _ expected: String) throws {
            let file = dir.appendingPathComponent("petrel.yaml")
            try yaml.write(to: file, atomically: true, encoding: .utf8)
            let r = try PetrelProcess.run(["check", "--config", file.path])
            #expect(r.status == 1, "\(r)")
            #expect(r.stderr.contains(expected), "expected '\(expected)' in \(r)")
        }
        try check("database:\n  max_connections: lots\n", "database.max_connections: 'lots' is not a whole number")
        try check("database:\n  max_connections: 0\n", "database.max_connections: 0 is outside 1...1000")
        try check("database:\n  url: mysql://x@y/z\n", "database.url")
        try check("log:\n  level: chatty\n", "log.level")
        try check("directory:\n  recipient_delimiter: \"a\"\n", "directory.recipient_delimiter")
        try check("database: [unclosed\n", "not valid YAML")
        let missing = try PetrelProcess.run(["check", "--config", "/nonexistent/petrel.yaml"])
        #expect(missing.status == 1 && missing.stderr.contains("no file at /nonexistent/petrel.yaml"), "\(missing)")
        // The example configuration shipped in config/ is valid (it names a database that is not
        // running, so check stops at the connection, after the configuration line).
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config/petrel.example.yaml").standardized
        let r = try PetrelProcess.run(["check", "--config", example.path])
        #expect(r.stdout.contains("configuration: ok"), "\(r)")
    }

    @Test func everyCommandHasHelp() throws {
        let commands: [[String]] = [[], ["dev"], ["serve"], ["migrate"], ["check"], ["domain"], ["domain", "add"],
            ["domain", "list"], ["domain", "show"], ["domain", "remove"], ["user"], ["user", "add"], ["user", "list"],
            ["user", "show"], ["user", "passwd"], ["user", "enable"], ["user", "disable"], ["user", "remove"],
            ["alias"], ["alias", "add"], ["alias", "list"], ["alias", "remove"], ["quota"], ["quota", "set"],
            ["quota", "show"], ["mailbox"], ["mailbox", "list"], ["resolve"], ["auth"], ["auth", "test"]]
        for command in commands {
            let r = try PetrelProcess.run(command + ["--help"])
            #expect(r.status == 0, "\(command): \(r)")
            #expect(r.stdout.contains("USAGE: petrel"), "\(command): \(r)")
        }
    }
}
