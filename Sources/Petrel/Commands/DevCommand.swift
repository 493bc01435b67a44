import ArgumentParser
import Foundation
import MailAuth
import MailCore
import MailStore

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run a self-contained local node: its own PostgreSQL under PETREL_HOME, a demo domain and account.",
        discussion: """
            First run: initialises a PostgreSQL cluster in PETREL_HOME (default ./.petrel; Unix socket only),
            migrates, creates the domain example.test and the account demo@example.test with the password from
            PETREL_DEMO_PASSWORD, or a generated one kept in PETREL_HOME/demo-password. Later runs reuse the data.
            Listens on 127.0.0.1 only: SMTP 2525, submission 2587, submissions 2465 (implicit TLS), IMAP 2143,
            IMAPS 2993, POP3 2110, POP3S 2995, with a self-signed certificate made into PETREL_HOME/tls. Ctrl-C stops the node and its PostgreSQL.
            """
    )

    @OptionGroup var global: GlobalOptions

    static let demoDomain = "example.test"
    static let demoAccount = "demo@example.test"

    func run() async throws {
        try await reportingErrors {
            let home = CommandContext.home(global)
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            let embedded = try EmbeddedPostgres(home: home)
            if try embedded.initialiseIfNeeded() { print("initialised PostgreSQL in \(embedded.dataDirectory)") }
            try embedded.startIfNeeded()
            defer {
                do {
                    try embedded.stop()
                    print("PostgreSQL stopped")
                } catch {
                    FileHandle.standardError.write(Data("petrel: error: \(error)\n".utf8))
                }
            }
            var configuration = try await CommandContext.loadConfiguration(global)
            configuration.databaseURL = nil
            configuration.listeners = ListenerConfiguration.development
            if configuration.tlsCertificate == nil {
                let (certificate, key) = try selfSignedCertificate(home: home, hostname: configuration.hostname)
                configuration.tlsCertificate = certificate
                configuration.tlsKey = key
            }
            let context = CommandContext(configuration: configuration, url: embedded.url, logger: CommandContext.logger())
            let password = try demoPassword(home: home)
            try await context.withDatabase(requireSchema: false) { database in
                for m in try await MigrationRunner(database: database).migrate() { print("applied \(m.fileName)") }
                let directory = Directory(database: database)
                let domain = try DomainName(Self.demoDomain)
                if (try? await directory.domain(domain)) == nil {
                    try await directory.addDomain(domain)
                    print("added domain \(domain)")
                }
                let address = try EmailAddress(Self.demoAccount)
                if let stored = try await directory.credentials(address) {
                    // Keep the printed password true: PETREL_DEMO_PASSWORD may have changed since the last run.
                    if try await !context.hasher.check(password.value, against: stored.passwordHash).matched {
                        try await directory.setPasswordHash(address, try await context.hasher.hash(password.value),
                                                            scramSHA256: try SCRAMSecrets.derive(password: password.value).stored)
                        print("updated the password of \(address)")
                    }
                } else {
                    try await directory.addAccount(address, passwordHash: try await context.hasher.hash(password.value),
                                                   scramSHA256: try SCRAMSecrets.derive(password: password.value).stored, displayName: "Demo")
                    print("added account \(address)")
                }
            }
            print("""

                PETREL_HOME: \(home)
                database:    \(embedded.url)
                demo login:  \(Self.demoAccount)
                password:    \(password.value)\(password.source)

                """)
            try await Node(context: context).run(migrate: false)
        }
    }

    /// A self-signed certificate for the dev listeners, made once with openssl and kept in
    /// PETREL_HOME/tls (clients must be told not to verify it).
    func selfSignedCertificate(home: String, hostname: String) throws -> (String, String) {
        let directory = home + "/tls"
        let certificate = directory + "/certificate.pem"
        let key = directory + "/key.pem"
        if FileManager.default.fileExists(atPath: certificate) && FileManager.default.fileExists(atPath: key) {
            return (certificate, key)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        guard let openssl = Subprocess.find("openssl") else {
            throw CLIError("openssl is needed to make the dev TLS certificate (apt-get install openssl)")
        }
        let result = try Subprocess.run([
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "825",
            "-subj", "/CN=\(hostname)", "-addext", "subjectAltName=DNS:\(hostname),DNS:localhost,IP:127.0.0.1",
            "-keyout", key, "-out", certificate,
        ])
        guard result.status == 0 else { throw CLIError("openssl could not make a certificate: \(result.output)") }
        chmod(key, 0o600)
        print("made a self-signed TLS certificate in \(directory)")
        return (certificate, key)
    }

    /// PETREL_DEMO_PASSWORD, else the one generated on the first run (kept 0600 in PETREL_HOME).
    func demoPassword(home: String) throws -> (value: String, source: String) {
        if let given = ProcessInfo.processInfo.environment["PETREL_DEMO_PASSWORD"], !given.isEmpty {
            return (given, "  (from PETREL_DEMO_PASSWORD)")
        }
        let file = home + "/demo-password"
        if let kept = try? String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !kept.isEmpty {
            return (kept, "  (kept in \(file))")
        }
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        let value = String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
        _ = FileManager.default.createFile(atPath: file, contents: Data((value + "\n").utf8), attributes: [.posixPermissions: 0o600])
        return (value, "  (generated, kept in \(file))")
    }
}
