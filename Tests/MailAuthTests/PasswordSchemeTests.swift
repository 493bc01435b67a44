import Foundation
import MailAuth
import Testing

/// One line of Fixtures/password-fixtures.tsv, made by outside tools (see the generator script).
struct PasswordFixture: CustomTestStringConvertible, Sendable {
    var scheme: String
    var command: String
    var password: String
    var hash: String
    var testDescription: String { "\(command) [\(password.unicodeScalars.allSatisfy(\.isASCII) ? "ascii" : "unicode")]" }

    static let all: [PasswordFixture] = {
        guard let url = Bundle.module.url(forResource: "password-fixtures", withExtension: "tsv"),
              let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { line in
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return PasswordFixture(scheme: f[0], command: f[1], password: f[2], hash: f[3])
        }
    }()
}

@Suite struct PasswordSchemeTests {
    @Test func fixturesArePresent() {
        // 28 tool invocations for each of two passwords.
        #expect(PasswordFixture.all.count == 56)
        let schemes = Set(PasswordFixture.all.map(\.scheme))
        for required in ["ARGON2ID", "ARGON2I", "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "CRYPT",
                         "SSHA512", "SSHA256", "SSHA", "PLAIN"] {
            #expect(schemes.contains(required), "no fixture for \(required)")
        }
    }

    @Test(arguments: PasswordFixture.all)
    func acceptsTheRightPassword(_ fixture: PasswordFixture) throws {
        let check = try PasswordVerifier.check(fixture.password, against: fixture.hash)
        #expect(check.matched)
        #expect(check.scheme.rawValue == fixture.scheme)
    }

    @Test(arguments: PasswordFixture.all)
    func refusesWrongPasswords(_ fixture: PasswordFixture) throws {
        // Traditional DES crypt reads only the first 8 characters (crypt(3)); vary those for it.
        let wrongs = fixture.command.contains("descrypt")
            ? ["x" + fixture.password, String(fixture.password.dropFirst()), fixture.password.uppercased(), "x"]
            : [fixture.password + "x", String(fixture.password.dropLast()), fixture.password.uppercased(), "x"]
        for wrong in wrongs where wrong != fixture.password {
            #expect(try PasswordVerifier.check(wrong, against: fixture.hash).matched == false, "accepted '\(wrong)'")
        }
        #expect(try PasswordVerifier.check("", against: fixture.hash).matched == false)
    }

    @Test func newHashesAreArgon2id() throws {
        let hash = try PasswordVerifier.hash("s3cret pass", parameters: .init(memoryKiB: 1024, iterations: 1, parallelism: 1))
        #expect(hash.hasPrefix("{ARGON2ID}$argon2id$v=19$m=1024,t=1,p=1$"))
        #expect(try PasswordVerifier.check("s3cret pass", against: hash) == PasswordCheck(matched: true, scheme: .argon2id))
        #expect(try PasswordVerifier.check("s3cret pasS", against: hash).matched == false)
        #expect(try PasswordVerifier.check("s3cret pass", against: hash).needsRehash == false)
        // Two hashes of one password differ (fresh salt).
        #expect(try hash != PasswordVerifier.hash("s3cret pass", parameters: .init(memoryKiB: 1024, iterations: 1, parallelism: 1)))
    }

    @Test func legacyHashesNeedRehash() throws {
        let md5 = PasswordFixture.all.first { $0.scheme == "MD5-CRYPT" }!
        #expect(try PasswordVerifier.check(md5.password, against: md5.hash).needsRehash)
    }

    @Test func emptyPasswordsNeverMatch() throws {
        #expect(try PasswordVerifier.check("", against: "{PLAIN}").matched == false)
        #expect(throws: PasswordPolicyError.empty) { try PasswordVerifier.hash("") }
    }

    @Test func unknownSchemesAreErrors() {
        #expect(throws: UnsupportedPasswordScheme(scheme: "NTLM")) { try PasswordVerifier.check("x", against: "{NTLM}abcdef") }
    }

    /// Hostile or broken stored values: no crash, no match.
    @Test(arguments: ["{SSHA}", "{SSHA}!!!!", "{SSHA}YQ==", "{SSHA512.HEX}zz", "{SSHA512.HEX}abc", "{SHA}short",
                      "{ARGON2ID}$argon2id$v=19$m=1,t=1,p=1$$", "{ARGON2ID}garbage", "$6$", "$6$salt$", "$2y$99$x",
                      "$y$", "{CRYPT}", "*", "!", "{BLF-CRYPT}$2y$05$" + String(repeating: "A", count: 200),
                      "{PLAIN-MD5}nothex", "{MD5-CRYPT}$1$$"])
    func brokenHashesDoNotMatch(_ stored: String) {
        let check = try? PasswordVerifier.check("password", against: stored)
        #expect(check?.matched != true)
    }

    @Test func hasherRunsOffTheEventLoop() async throws {
        let hasher = PasswordHasher(parameters: .init(memoryKiB: 1024, iterations: 1, parallelism: 1))
        let hash = try await hasher.hash("pool pass")
        #expect(try await hasher.check("pool pass", against: hash).matched)
        // Over-long passwords are refused without hashing.
        await #expect(throws: PasswordPolicyError.tooLong(limit: PasswordHasher.maximumPasswordBytes)) {
            try await hasher.hash(String(repeating: "x", count: 5000))
        }
        #expect(try await hasher.check(String(repeating: "x", count: 5000), against: "{PLAIN}" + String(repeating: "x", count: 5000)).matched == false)
    }
}
