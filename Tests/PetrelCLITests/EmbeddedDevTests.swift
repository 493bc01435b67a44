import Foundation
import PetrelTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What `make run` does: `petrel dev` initialises its own PostgreSQL under PETREL_HOME, creates
/// the demo domain and account, runs until Ctrl-C and then stops its PostgreSQL; the CLI with the
/// same PETREL_HOME reaches that database with no flags, and starts it when it is not running.
@Suite struct EmbeddedDevTests {
    final class DevNode {
        let process = Process()
        let log: URL

        init(home: String, environment: [String: String]) throws {
            log = URL(fileURLWithPath: home + "-dev.log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: PetrelProcess.binary)
            process.arguments = ["dev"]
            var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "PETREL_HOME": home]
            env.merge(environment) { $1 }
            process.environment = env
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = try FileHandle(forWritingTo: log)
            process.standardError = process.standardOutput
            try process.run()
        }

        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

        /// Waits (bounded) until the node says it is up, or has exited.
        func waitUntilRunning() async throws -> Bool {
            for _ in 0..<600 {
                if output.contains("Ctrl-C stops") { return true }
                if !process.isRunning { return false }
                try await Task.sleep(for: .milliseconds(100))
            }
            return false
        }

        func interrupt() async throws -> Int32 {
            kill(process.processIdentifier, SIGINT)
            for _ in 0..<600 where process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    @Test func devSetupThenCLIWithoutFlags() async throws {
        let home = "/tmp/petrel-dev-test-\(UInt32.random(in: 0 ... .max))"
        defer {
            // If an expectation failed midway, a postmaster may still run: stop it before removing its files.
            _ = try? Process.run(URL(fileURLWithPath: "/usr/bin/pkill"), arguments: ["-INT", "-f", home + "/postgres/data"]).waitUntilExit()
            try? FileManager.default.removeItem(atPath: home)
            try? FileManager.default.removeItem(atPath: home + "-dev.log")
        }
        let env = ["PETREL_DEMO_PASSWORD": "demo pass 1"]

        let first = try DevNode(home: home, environment: env)
        let up = try await first.waitUntilRunning()
        #expect(up, "petrel dev did not come up:\n\(first.output)")
        #expect(first.output.contains("added domain example.test"))
        #expect(first.output.contains("added account demo@example.test"))
        // The dev listeners: loopback only, the README's ports, TLS with the self-signed certificate.
        for line in ["smtp         127.0.0.1:2525  tls: starttls", "submission   127.0.0.1:2587  tls: starttls",
                     "submissions  127.0.0.1:2465  tls: implicit", "imap         127.0.0.1:2143  tls: starttls",
                     "imaps        127.0.0.1:2993  tls: implicit", "pop3         127.0.0.1:2110  tls: starttls",
                     "pop3s        127.0.0.1:2995  tls: implicit"] {
            #expect(first.output.contains(line), "\(first.output)")
        }
        #expect(FileManager.default.fileExists(atPath: home + "/tls/certificate.pem"))
        let smtp = Process()
        smtp.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        smtp.arguments = ["python3", "-c", """
            import smtplib, ssl
            s = smtplib.SMTP_SSL('127.0.0.1', 2465, context=ssl._create_unverified_context())
            s.login('demo@example.test', 'demo pass 1')
            print(s.noop()[0])
            import imaplib
            i = imaplib.IMAP4_SSL('127.0.0.1', 2993, ssl_context=ssl._create_unverified_context())
            i.login('demo@example.test', 'demo pass 1')
            assert i.select('INBOX')[0] == 'OK'
            i.logout()
            import poplib
            p = poplib.POP3_SSL('127.0.0.1', 2995, context=ssl._create_unverified_context())
            p.user('demo@example.test')
            p.pass_('demo pass 1')
            p.stat()
            p.quit()
            """]
        try smtp.run()
        smtp.waitUntilExit()
        #expect(smtp.terminationStatus == 0, "an SMTPS, IMAPS or POP3S login to the dev node failed")

        // The CLI finds the embedded database through PETREL_HOME alone.
        var r = try PetrelProcess.run(["domain", "list", "--json"], environment: ["PETREL_HOME": home])
        #expect(r.status == 0 && r.stdout.contains("\"example.test\""), "\(r)")
        r = try PetrelProcess.run(["auth", "test", "demo@example.test"], stdin: "demo pass 1\n", environment: ["PETREL_HOME": home])
        #expect(r.status == 0, "\(r)")
        #expect(try PetrelProcess.run(["domain", "add", "second.test"], environment: ["PETREL_HOME": home]).status == 0)

        #expect(try await first.interrupt() == 0, "\(first.output)")
        #expect(first.output.contains("PostgreSQL stopped"), "\(first.output)")

        // With the node stopped, the CLI starts the database itself; the data is still there.
        r = try PetrelProcess.run(["domain", "list", "--json"], environment: ["PETREL_HOME": home])
        #expect(r.status == 0 && r.stdout.contains("\"second.test\""), "\(r)")

        // A second run reuses the data (no second demo account); a changed PETREL_DEMO_PASSWORD
        // becomes the demo account's password, so what is printed is what works.
        let second = try DevNode(home: home, environment: ["PETREL_DEMO_PASSWORD": "demo pass 2"])
        #expect(try await second.waitUntilRunning(), "\(second.output)")
        #expect(!second.output.contains("added account"), "\(second.output)")
        #expect(second.output.contains("updated the password of demo@example.test"), "\(second.output)")
        r = try PetrelProcess.run(["auth", "test", "demo@example.test"], stdin: "demo pass 2\n", environment: ["PETREL_HOME": home])
        #expect(r.status == 0, "\(r)")
        #expect(try await second.interrupt() == 0, "\(second.output)")
        #expect(second.output.contains("PostgreSQL stopped"))
    }
}
