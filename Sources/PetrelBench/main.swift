// Store and parser benchmarks (docs/benchmarks.md). Run with `make bench`, which builds in
// release mode and starts a throwaway PostgreSQL; or by hand:
//   PETREL_BENCH_DATABASE_URL=postgres://… .build/release/petrel-bench [--large 100000]
import Foundation
import Logging
import MailCore
import MailStore
import MIME

@main
struct PetrelBench {
    static func seconds(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func main() async throws {
        let arguments = CommandLine.arguments
        if arguments.contains("--help") || arguments.contains("-h") {
            print("""
                usage: petrel-bench [--large N] [--deliveries N] [--corpus DIR]
                Measures MIME parse throughput, delivery rate into a mailbox of 1,000 and of N
                (default 100,000) messages, and reading the flags of every message of the large
                mailbox. Needs PETREL_BENCH_DATABASE_URL (an empty database; `make bench` makes one).
                """)
            return
        }
        func option(_ name: String, _ fallback: Int) -> Int {
            guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
            return Int(arguments[index + 1]) ?? fallback
        }
        let large = option("--large", 100_000)
        let deliveries = option("--deliveries", 500)
        let corpusDir = arguments.firstIndex(of: "--corpus").map { arguments[$0 + 1] } ?? "Tests/MIMETests/Corpus"

        // 1. Parse throughput over the corpus (every message parsed and rendered).
        let files = try FileManager.default.contentsOfDirectory(atPath: corpusDir).filter { $0.hasSuffix(".eml") }.sorted()
        let messages = try files.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: corpusDir).appendingPathComponent($0))) }
        let corpusBytes = messages.reduce(0) { $0 + $1.count }
        var rounds = 0
        let parseTime = await seconds {
            while rounds < 400 {
                for raw in messages {
                    let parsed = ParsedMessage(raw)
                    _ = parsed.bodyStructureBytes
                    _ = parsed.envelopeBytes
                    _ = SearchText(message: parsed)
                }
                rounds += 1
            }
        }
        let megabytes = Double(corpusBytes * rounds) / 1_048_576
        print(String(format: "parse: %d messages, %.1f MB in %.2f s = %.1f MB/s (%.0f messages/s)",
                     messages.count * rounds, megabytes, parseTime, megabytes / parseTime, Double(messages.count * rounds) / parseTime))
        // A large single message: 10 MB base64 attachment.
        let attachment = String(repeating: String(repeating: "QUJD", count: 19) + "\r\n", count: 130_000)
        let big = Array("Subject: big\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n\(attachment)--x--\r\n".utf8)
        let bigTime = await seconds { for _ in 0..<5 { _ = ParsedMessage(big).bodyStructureBytes } }
        print(String(format: "parse: 10 MB message with a base64 attachment: %.1f MB/s", Double(big.count * 5) / 1_048_576 / bigTime))

        guard let urlText = ProcessInfo.processInfo.environment["PETREL_BENCH_DATABASE_URL"] else {
            print("store: skipped (set PETREL_BENCH_DATABASE_URL)")
            return
        }
        var logger = Logger(label: "petrel-bench")
        logger.logLevel = .error
        try await Database.withDatabase(try DatabaseURL(parsing: urlText), logger: logger) { database in
            try await MigrationRunner(database: database).migrate()
            let directory = Directory(database: database)
            _ = try await directory.addDomain(DomainName("bench.test"))
            let store = MessageStore(database: database)
            let boxes = MailboxStore(database: database)

            func mailbox(_ name: String, filledTo count: Int) async throws -> (Int64, Int64) {
                let account = try await directory.addAccount(EmailAddress("\(name)@bench.test"), passwordHash: "{PLAIN}x").id
                let inbox = try await boxes.mailbox(accountID: account, name: MailboxName("INBOX")).id
                // Fill by doubling with COPY (bodies shared), then top up.
                _ = try await store.append(accountID: account, mailboxID: inbox, message: PreparedMessage(raw: Array("Subject: seed\r\n\r\nseed\r\n".utf8)))
                var have = 1
                while have * 2 <= count {
                    _ = try await store.copy(accountID: account, from: inbox, uids: .all, to: inbox)
                    have *= 2
                }
                if have < count {
                    let uids = try await store.uids(accountID: account, mailboxID: inbox)
                    _ = try await store.copy(accountID: account, from: inbox, uids: UIDSet(Array(uids.prefix(count - have))), to: inbox)
                }
                return (account, inbox)
            }

            func deliveryRate(into target: (Int64, Int64), tag: String) async throws -> Double {
                let prepared = (0..<deliveries).map { n in
                    PreparedMessage(raw: Array("From: a@bench.test\r\nTo: b@bench.test\r\nSubject: \(tag) \(n)\r\nMessage-ID: <\(tag).\(n)@bench.test>\r\n\r\nBody of message \(n) for \(tag).\r\n".utf8))
                }
                let time = try await seconds {
                    for message in prepared {
                        _ = try await store.deliver(message, to: [DeliveryTarget(accountID: target.0, mailboxID: target.1)])
                    }
                }
                return Double(deliveries) / time
            }

            let small = try await mailbox("small", filledTo: 1_000)
            let big = try await mailbox("large", filledTo: large)
            // Warm up the connection pool and caches.
            _ = try await deliveryRate(into: small, tag: "warm")
            let smallRate = try await deliveryRate(into: small, tag: "small")
            let largeRate = try await deliveryRate(into: big, tag: "large")
            print(String(format: "deliver: into 1,000 messages: %.0f messages/s; into %d: %.0f messages/s; ratio %.2f×",
                         smallRate, large, largeRate, smallRate / largeRate))
            var states: [MessageFlagState] = []
            let flagsTime = try await seconds { states = try await store.flagStates(accountID: big.0, mailboxID: big.1) }
            let uidsTime = try await seconds { _ = try await store.uids(accountID: big.0, mailboxID: big.1) }
            print(String(format: "read: flags of all %d messages in %.3f s; UID map in %.3f s", states.count, flagsTime, uidsTime))
            let statusTime = try await seconds { _ = try await store.status(accountID: big.0, mailboxID: big.1) }
            print(String(format: "read: STATUS of the %d-message mailbox in %.4f s", states.count, statusTime))
        }
    }
}
