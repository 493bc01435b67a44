import ArgumentParser
import Delivery
import Foundation
import MailStore

struct DKIMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dkim",
        abstract: "Manage the DKIM keys that sign mail submitted by local users.",
        discussion: """
            Outbound mail that an authenticated user submitted is signed (c=relaxed/relaxed) with the active keys
            of its envelope sender's domain: the newest active key of each algorithm, so a domain with an RSA and
            an Ed25519 key carries both signatures. Keys live in the database, shared by every node.
              petrel dkim keygen example.com                        RSA 2048, selector rsa-YYYYMMDD; prints the TXT record
              petrel dkim keygen example.com --algorithm ed25519    Ed25519 (RFC 8463)
              petrel dkim import example.com mail --key mail.private   an OpenDKIM key, keeping its selector
              petrel dkim list [DOMAIN]  |  petrel dkim record DOMAIN SELECTOR
              petrel dkim deactivate|activate|remove DOMAIN SELECTOR
            Rotation: `keygen --inactive`, publish the new record, wait for DNS, `activate` the new selector,
            `deactivate` the old one, and remove it once no mail signed with it can still be in transit.
            """,
        subcommands: [Keygen.self, Import.self, List.self, Record.self, Activate.self, Deactivate.self, Remove.self]
    )

    /// DOMAIN SELECTOR, naming one stored key.
    struct KeyName: ParsableArguments {
        @Argument(help: "The domain.") var domain: String
        @Argument(help: "The selector.") var selector: String
    }

    enum KeyAlgorithm: String, ExpressibleByArgument, CaseIterable {
        case rsa, ed25519

        var algorithm: DKIMPrivateKey.Algorithm { self == .rsa ? .rsaSHA256 : .ed25519SHA256 }
    }

    /// What `keygen`, `import` and `record` print with --json.
    struct PublishedKey: Encodable {
        let domain: String
        let selector: String
        let algorithm: String
        let bits: Int
        let active: Bool
        /// The DNS name of the TXT record.
        let name: String
        /// The TXT record's text.
        let record: String
    }

    static func published(_ record: DKIMKeyRecord) throws -> PublishedKey {
        guard let algorithm = DKIMPrivateKey.Algorithm(rawValue: record.algorithm) else {
            throw CLIError("unknown algorithm \(record.algorithm)")
        }
        let key = try DKIMPrivateKey(algorithm: algorithm, pem: record.privateKey)
        return PublishedKey(domain: record.domain, selector: record.selector, algorithm: record.algorithm,
                            bits: key.keySizeInBits, active: record.active,
                            name: "\(record.selector)._domainkey.\(record.domain)", record: key.dnsRecord)
    }

    /// A zone-file line: TXT strings are at most 255 octets each (RFC 1035 §3.3), so the
    /// record is written as several strings, which DNS servers join.
    static func zoneLine(_ key: PublishedKey) -> String {
        var strings: [String] = []
        var rest = Substring(key.record)
        while !rest.isEmpty {
            strings.append("\"\(rest.prefix(250))\"")
            rest = rest.dropFirst(250)
        }
        return "\(key.name). IN TXT ( \(strings.joined(separator: "\n        ")) )"
    }

    static func show(_ key: PublishedKey, json: Bool) throws {
        if json { return try Output.json(key) }
        print("; DKIM key \(key.selector) of \(key.domain): \(key.algorithm), \(key.bits) bits, "
              + (key.active ? "active (signing now)" : "inactive (activate it once DNS has the record)"))
        print("; publish this TXT record:")
        print(zoneLine(key))
    }

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key for a domain and print the DNS TXT record to publish.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "A local or alias domain of this server.") var domain: String
        @Option(help: "rsa (2048 bits, rsa-sha256) or ed25519 (ed25519-sha256).") var algorithm: KeyAlgorithm = .rsa
        @Option(help: "The selector (default: ALGORITHM-YYYYMMDD).") var selector: String?
        @Flag(help: "Store the key without signing with it yet (for a rotation: publish the record first).")
        var inactive = false

        func run() async throws {
            try await reportingErrors {
                let domainName = try Parse.domain(domain)
                let key = try DKIMPrivateKey.generate(algorithm.algorithm)
                let chosen = selector ?? "\(algorithm.rawValue)-\(DKIMCommand.today())"
                let context = try await CommandContext.make(global)
                let record = try await context.withDatabase { database in
                    try await DKIMKeyStore(database: database).add(
                        domain: domainName, selector: chosen, algorithm: key.algorithm.rawValue,
                        privateKey: key.pemRepresentation, active: !inactive)
                }
                try DKIMCommand.show(try DKIMCommand.published(record), json: output.json)
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store an existing private key (PEM: an OpenDKIM .private file, or openssl genpkey's output).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "A local or alias domain of this server.") var domain: String
        @Argument(help: "The selector its record is published under.") var selector: String
        @Option(help: "The PEM file of the private key.") var key: String
        @Flag(help: "Store the key without signing with it yet.") var inactive = false

        func run() async throws {
            try await reportingErrors {
                let domainName = try Parse.domain(domain)
                let pem: String
                do { pem = try String(contentsOfFile: key, encoding: .utf8) } catch {
                    throw CLIError("cannot read \(key): \(error)")
                }
                let parsed: DKIMPrivateKey
                if let rsa = try? DKIMPrivateKey(algorithm: .rsaSHA256, pem: pem) {
                    parsed = rsa
                } else if let ed25519 = try? DKIMPrivateKey(algorithm: .ed25519SHA256, pem: pem) {
                    parsed = ed25519
                } else {
                    throw CLIError("\(key) holds neither an RSA key (1024 bits or more) nor an Ed25519 key in PEM form")
                }
                if parsed.algorithm == .rsaSHA256 && parsed.keySizeInBits < 2048 {
                    FileHandle.standardError.write(Data(
                        "petrel: warning: a \(parsed.keySizeInBits)-bit RSA key; RFC 8301 asks signers for 2048 bits\n".utf8))
                }
                let context = try await CommandContext.make(global)
                let record = try await context.withDatabase { database in
                    try await DKIMKeyStore(database: database).add(
                        domain: domainName, selector: selector, algorithm: parsed.algorithm.rawValue,
                        privateKey: parsed.pemRepresentation, active: !inactive)
                }
                try DKIMCommand.show(try DKIMCommand.published(record), json: output.json)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys (never the private parts).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Only this domain's keys.") var domain: String?

        func run() async throws {
            try await reportingErrors {
                let domainName = try domain.map(Parse.domain)
                let context = try await CommandContext.make(global)
                let records = try await context.withDatabase { try await DKIMKeyStore(database: $0).keys(domain: domainName) }
                let keys = try records.map(DKIMCommand.published)
                if output.json { return try Output.json(keys) }
                Output.table(["DOMAIN", "SELECTOR", "ALGORITHM", "BITS", "ACTIVE", "CREATED"],
                             zip(keys, records).map { key, record in
                                 [key.domain, key.selector, key.algorithm, "\(key.bits)", key.active ? "yes" : "no",
                                  Output.date(record.createdAt)]
                             })
            }
        }
    }

    struct Record: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a key's DNS TXT record again.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var key: KeyName

        func run() async throws {
            try await reportingErrors {
                let domainName = try Parse.domain(key.domain)
                let context = try await CommandContext.make(global)
                let records = try await context.withDatabase { try await DKIMKeyStore(database: $0).keys(domain: domainName) }
                guard let record = records.first(where: { $0.selector == key.selector.lowercased() }) else {
                    throw CLIError("domain \(domainName) has no key with selector \(key.selector)")
                }
                try DKIMCommand.show(try DKIMCommand.published(record), json: output.json)
            }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Sign with a key (publish its record first).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var key: KeyName

        func run() async throws {
            try await DKIMCommand.setActive(global, key, true)
        }
    }

    struct Deactivate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop signing with a key (it stays stored).")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var key: KeyName

        func run() async throws {
            try await DKIMCommand.setActive(global, key, false)
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a key.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var key: KeyName

        func run() async throws {
            try await reportingErrors {
                let domainName = try Parse.domain(key.domain)
                let context = try await CommandContext.make(global)
                try await context.withDatabase {
                    try await DKIMKeyStore(database: $0).remove(domain: domainName, selector: key.selector)
                }
                print("removed DKIM key \(key.selector.lowercased()) of \(domainName)")
            }
        }
    }

    static func setActive(_ global: GlobalOptions, _ key: KeyName, _ active: Bool) async throws {
        try await reportingErrors {
            let domainName = try Parse.domain(key.domain)
            let context = try await CommandContext.make(global)
            try await context.withDatabase {
                try await DKIMKeyStore(database: $0).setActive(domain: domainName, selector: key.selector, active)
            }
            print("DKIM key \(key.selector.lowercased()) of \(domainName) is \(active ? "active" : "inactive")")
        }
    }

    static func today() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd"
        return formatter.string(from: Date())
    }
}
