import Foundation
import MailAuth
import MailCore
import MailStore
import PetrelTestSupport
import Testing

/// The authentication service against the real database: rehash on login, SCRAM secrets,
/// throttling shared through PostgreSQL, per-domain backends.
@Suite(.serialized) struct AuthenticatorTests {
    static let hasher = PasswordHasher(parameters: .init(memoryKiB: 64, iterations: 1, parallelism: 1))
    /// Dovecot's `doveadm pw -s SHA512-CRYPT` of "correct horse battery staple".
    static let sha512Crypt = "{SHA512-CRYPT}$6$LxiSx87TRakLeIqN$eyBGGCiHYj7sJLOrGUudZ/cbjmMiUV9u2xDVhrWTYbyUY4Rx9VG6EfK2EAbs.yh4LjK2kMjDDc0lbH.mePq0A1"
    static let password = "correct horse battery staple"
    static let context = LoginContext(service: "imap", clientAddress: "192.0.2.7")

    static func setUp(_ database: Database) async throws -> Directory {
        let directory = Directory(database: database)
        try await directory.addDomain(try DomainName("example.test"))
        try await directory.addAccount(try EmailAddress("legacy@example.test"), passwordHash: sha512Crypt)
        try await directory.addAccount(try EmailAddress("other@example.test"), passwordHash: sha512Crypt)
        return directory
    }

    static func noDelay(accountLimit: Int = 10, clientLimit: Int = 30) -> LoginThrottleSettings {
        LoginThrottleSettings(accountLimit: accountLimit, clientLimit: clientLimit, delay: 0)
    }

    /// A login with a {SHA512-CRYPT} hash leaves an {ARGON2ID} hash and SCRAM secrets behind;
    /// the old hash is gone, the password still works, and SCRAM now works too.
    @Test func aLegacyHashIsReplacedAtLogin() async throws {
        try await TestDatabase.withMigrated { database in
            let directory = try await Self.setUp(database)
            let auth = Authenticator(directory: directory, hasher: Self.hasher, throttle: Self.noDelay())
            let address = try EmailAddress("legacy@example.test")
            #expect(try await directory.credentials(address)?.scramSHA256 == nil)
            guard case .accepted(let user) = await auth.login(username: "legacy@example.test", password: Self.password, context: Self.context) else {
                Issue.record("the legacy password was refused")
                return
            }
            #expect(user.backend == .sql)
            let after = try #require(try await directory.credentials(address))
            #expect(after.passwordHash.hasPrefix("{ARGON2ID}$argon2id$"))
            #expect(try await Self.hasher.check(Self.password, against: after.passwordHash).matched)
            let secrets = try #require(after.scramSHA256.flatMap(SCRAMSecrets.init(stored:)))
            #expect(secrets == (try SCRAMSecrets.derive(password: Self.password, salt: secrets.salt, iterations: secrets.iterations)))
            // Logging in again changes nothing more.
            _ = await auth.login(username: "legacy@example.test", password: Self.password, context: Self.context)
            #expect(try await directory.credentials(address)?.passwordHash == after.passwordHash)
            // A wrong password rehashes nothing.
            #expect(await auth.login(username: "other@example.test", password: "wrong", context: Self.context) == .rejected(reason: "wrong password (stored as SHA512-CRYPT)"))
            #expect(try await directory.credentials(try EmailAddress("other@example.test"))?.passwordHash == Self.sha512Crypt)
        }
    }

    /// Failures count per account and per client in the database, so a second authenticator
    /// (another node) sees the block; the right password is then refused too, until unblocked.
    @Test func failuresBlockAcrossAuthenticators() async throws {
        try await TestDatabase.withMigrated { database in
            let directory = try await Self.setUp(database)
            let nodeA = Authenticator(directory: directory, hasher: Self.hasher, throttle: Self.noDelay(accountLimit: 3))
            let nodeB = Authenticator(directory: Directory(database: database), hasher: Self.hasher, throttle: Self.noDelay(accountLimit: 3))
            for _ in 0 ..< 3 {
                guard case .rejected = await nodeA.login(username: "legacy@example.test", password: "guess", context: Self.context) else {
                    Issue.record("a wrong password was not rejected")
                    return
                }
            }
            guard case .throttled = await nodeB.login(username: "legacy@example.test", password: Self.password, context: Self.context) else {
                Issue.record("the other node did not see the block")
                return
            }
            // SCRAM is refused before the exchange as well.
            guard case .refused(.throttled) = await nodeB.scramSecrets(username: "legacy@example.test", context: Self.context) else {
                Issue.record("SCRAM went on for a blocked account")
                return
            }
            // Another account from another client is not affected.
            let elsewhere = LoginContext(service: "imap", clientAddress: "198.51.100.1")
            guard case .accepted = await nodeB.login(username: "other@example.test", password: Self.password, context: elsewhere) else {
                Issue.record("an unrelated login was refused")
                return
            }
            let failures = LoginFailures(database: database)
            #expect(try await failures.clear(LoginThrottle.accountKey("legacy@example.test")))
            guard case .accepted = await nodeA.login(username: "legacy@example.test", password: Self.password, context: elsewhere) else {
                Issue.record("still refused after unblocking")
                return
            }
        }
    }

    /// One client guessing at many accounts is blocked by its address; a success clears the
    /// account's counter but not the client's.
    @Test func aClientGuessingAtManyAccountsIsBlocked() async throws {
        try await TestDatabase.withMigrated { database in
            let directory = try await Self.setUp(database)
            let auth = Authenticator(directory: directory, hasher: Self.hasher, throttle: Self.noDelay(accountLimit: 100, clientLimit: 4))
            for n in 0 ..< 4 {
                _ = await auth.login(username: "user\(n)@example.test", password: "guess", context: Self.context)
            }
            guard case .throttled = await auth.login(username: "other@example.test", password: Self.password, context: Self.context) else {
                Issue.record("the guessing client was not blocked")
                return
            }
            let records = try await LoginFailures(database: database).list(blockedOnly: true)
            #expect(records.map(\.key) == ["client:192.0.2.7"])
        }
    }

    /// Provisioning from a directory: what the directory does not say is left as the admin set
    /// it, and alternate addresses never become aliases in another domain.
    @Test func provisioningKeepsWhatTheDirectoryDoesNotSay() async throws {
        try await TestDatabase.withMigrated { database in
            let directory = try await Self.setUp(database)
            try await directory.addDomain(try DomainName("ldap.test"))
            let alice = try EmailAddress("alice@ldap.test")
            try await directory.provision(ProvisionedAccount(address: alice, displayName: "Alice", quotaBytes: 5000,
                                                             aliases: [try EmailAddress("a@ldap.test"), try EmailAddress("ceo@example.test")]),
                                          from: "ldap")
            try await directory.setQuota(alice, bytes: 7000, messages: nil)
            try await directory.provision(ProvisionedAccount(address: alice), from: "cyrus")
            let record = try await directory.account(alice)
            #expect(record.quotaBytes == 7000 && record.displayName == "Alice")
            #expect(try await directory.aliasTargets(.address(try EmailAddress("a@ldap.test"))) == ["alice@ldap.test"])
            #expect(try await directory.aliasTargets(.address(try EmailAddress("ceo@example.test"))) == nil)
        }
    }

    /// An empty password never succeeds, whatever is stored (even {PLAIN} with an empty value
    /// cannot be stored; an LDAP domain never sees it).
    @Test func backendsPerDomain() async throws {
        try await TestDatabase.withMigrated { database in
            let directory = try await Self.setUp(database)
            let auth = Authenticator(directory: directory, hasher: Self.hasher, throttle: Self.noDelay())
            try await auth.refreshSCRAMOffer()
            #expect(auth.offersSCRAM)
            try await directory.addDomain(try DomainName("ldap.test"))
            // A directory that is not there: a temporary failure, never a wrong password.
            var settings = LDAPSettings(uri: "ldap://127.0.0.1:9", baseDN: "dc=ldap,dc=test")
            settings.timeout = 1
            try await directory.setDomainAuth(try DomainName("ldap.test"), backend: "ldap", settingsJSON: try settings.json())
            guard case .temporaryFailure = await auth.login(username: "alice@ldap.test", password: "pw", context: Self.context) else {
                Issue.record("an unreachable directory was not a temporary failure")
                return
            }
            #expect(await auth.login(username: "alice@ldap.test", password: "", context: Self.context) == .rejected(reason: "empty password"))
            try await auth.refreshSCRAMOffer()
            #expect(!auth.offersSCRAM)
            // No secrets for an LDAP user: the exchange goes on with made-up ones, keyed by the
            // database's shared secret (the same on every node).
            let key = Array(try #require(try await directory.authSecret("scram_decoy")).utf8)
            #expect(await auth.scramSecrets(username: "alice@ldap.test", context: Self.context) == .unknown(decoyKey: key))
            let other = Authenticator(directory: Directory(database: database), hasher: Self.hasher, throttle: Self.noDelay())
            #expect(await other.scramSecrets(username: "alice@ldap.test", context: Self.context) == .unknown(decoyKey: key))
            #expect(try await directory.removeDomainAuth(try DomainName("ldap.test")))
            try await auth.refreshSCRAMOffer()
            #expect(auth.offersSCRAM)
        }
    }
}
