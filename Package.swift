// swift-tools-version:6.1
import PackageDescription

// Settings applied to every Swift target.
// ExistentialAny (SE-0335): spell `any Protocol` so existential costs are visible.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "petrel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "petrel", targets: ["Petrel"]),
        .executable(name: "petrel-fuzz", targets: ["PetrelFuzz"]),
        .executable(name: "petrel-bench", targets: ["PetrelBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.25.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.0.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.10.0"),
    ],
    targets: [
        // MARK: System libraries (Debian -dev packages)
        .systemLibrary(name: "CCrypt", pkgConfig: "libxcrypt", providers: [.apt(["libcrypt-dev"])]),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),
        .systemLibrary(name: "CLDAP", pkgConfig: "ldap", providers: [.apt(["libldap-dev"])]),
        .systemLibrary(name: "CSASL", pkgConfig: "libsasl2", providers: [.apt(["libsasl2-dev"])]),

        // MARK: Pure core: addresses, domains, limits. No I/O.
        .target(name: "MailCore", swiftSettings: swiftSettings),

        // MARK: RFC 5322 / MIME parser: ENVELOPE, BODYSTRUCTURE, sections, search text. No I/O.
        .target(name: "MIME", swiftSettings: swiftSettings),

        // MARK: The only place with SQL.
        .target(
            name: "MailStore",
            dependencies: [
                "MailCore", "MIME",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Password schemes, SASL mechanisms (PLAIN, LOGIN, SCRAM-SHA-256), the authentication
        // backends (SQL, LDAP, Cyrus SASL) and login throttling.
        .target(
            name: "MailAuth",
            dependencies: [
                "MailCore", "MailStore", "CCrypt", "CArgon2", "CLDAP", "CSASL",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Listeners, TLS, bounded reads, connection limits, drain: shared by every protocol.
        .target(
            name: "ServerSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: SMTP server: parser, session state machine, recipient policy.
        .target(
            name: "SMTPServer",
            dependencies: [
                "MailCore", "MIME", "MailStore", "MailAuth", "ServerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "IMAPServer",
            dependencies: [
                "MailCore", "MIME", "MailStore", "MailAuth", "ServerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "POP3Server",
            dependencies: [
                "MailCore", "MailStore", "MailAuth", "ServerSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Outbound delivery: queue workers, DNS MX routing, SMTP client, DSN bounces, DKIM signing.
        .target(
            name: "Delivery",
            dependencies: [
                "MailCore", "MIME", "MailStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: The `petrel` executable.
        .executableTarget(
            name: "Petrel",
            dependencies: [
                "MailCore", "MailStore", "MailAuth", "ServerSupport", "SMTPServer", "IMAPServer", "POP3Server", "Delivery",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Benchmarks (`make bench`, docs/benchmarks.md)
        .executableTarget(
            name: "PetrelBench",
            dependencies: ["MailCore", "MailStore", "MIME", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),

        // MARK: Fuzzing (libFuzzer; `make fuzz`)
        .executableTarget(name: "PetrelFuzz", dependencies: ["MailCore", "MailStore", "MIME", "MailAuth", "SMTPServer", "IMAPServer", "POP3Server", "Delivery"], swiftSettings: swiftSettings),

        // MARK: Tests
        // Shared by the test targets: a fresh database per test on the throwaway PostgreSQL
        // that `make test` starts (scripts/with-test-postgres.sh).
        .target(
            name: "PetrelTestSupport",
            dependencies: [
                "MailStore", "ServerSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/PetrelTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "MailCoreTests", dependencies: ["MailCore"], swiftSettings: swiftSettings),
        .testTarget(name: "MIMETests", dependencies: ["MIME"],
                    resources: [.copy("Corpus"), .copy("Hostile")], swiftSettings: swiftSettings),
        .testTarget(name: "MailAuthTests", dependencies: ["MailAuth", "MailStore", "PetrelTestSupport"],
                    exclude: ["Fixtures/generate-password-fixtures.sh"],
                    resources: [.copy("Fixtures/password-fixtures.tsv")], swiftSettings: swiftSettings),
        .testTarget(name: "MailStoreTests", dependencies: ["MailStore", "MailCore", "MIME", "PetrelTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "SMTPServerTests",
                    dependencies: ["SMTPServer", "ServerSupport", "MailStore", "MailAuth", "MailCore", "PetrelTestSupport",
                                   .product(name: "NIOPosix", package: "swift-nio"),
                                   .product(name: "NIOEmbedded", package: "swift-nio"),
                                   .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                   .product(name: "Logging", package: "swift-log")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "IMAPServerTests",
                    dependencies: ["IMAPServer", "ServerSupport", "MailStore", "MailAuth", "MailCore", "PetrelTestSupport",
                                   .product(name: "NIOPosix", package: "swift-nio"),
                                   .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                   .product(name: "Logging", package: "swift-log")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "POP3ServerTests",
                    dependencies: ["POP3Server", "ServerSupport", "MailStore", "MailAuth", "MailCore", "PetrelTestSupport",
                                   .product(name: "NIOPosix", package: "swift-nio"),
                                   .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                   .product(name: "Logging", package: "swift-log")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "DeliveryTests",
                    dependencies: ["Delivery", "MailStore", "MailCore", "PetrelTestSupport",
                                   .product(name: "Crypto", package: "swift-crypto"),
                                   .product(name: "_CryptoExtras", package: "swift-crypto"),
                                   .product(name: "NIOCore", package: "swift-nio"),
                                   .product(name: "NIOPosix", package: "swift-nio"),
                                   .product(name: "Logging", package: "swift-log")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "PetrelCLITests", dependencies: ["PetrelTestSupport", "MailStore", "MailCore", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
    ]
)
