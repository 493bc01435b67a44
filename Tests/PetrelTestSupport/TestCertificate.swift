import Foundation
import ServerSupport

/// A self-signed certificate made once per test run with openssl, for the protocol tests'
/// STARTTLS and implicit-TLS listeners (their clients do not verify it).
public enum TestCertificate {
    static let paths: (String, String)? = {
        let directory = NSTemporaryDirectory() + "petrel-tests-tls-\(getpid())"
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificate = directory + "/cert.pem", key = directory + "/key.pem"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
                             "-subj", "/CN=mx.example.test", "-keyout", key, "-out", certificate]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        process.waitUntilExit()
        return process.terminationStatus == 0 ? (certificate, key) : nil
    }()

    public struct Unavailable: Error {}

    public static func store() throws -> TLSContextStore {
        guard let (certificate, key) = paths else { throw Unavailable() }
        return try TLSContextStore(certificatePath: certificate, keyPath: key)
    }
}
