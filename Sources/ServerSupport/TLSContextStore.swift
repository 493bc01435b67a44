import NIOConcurrencyHelpers
import NIOSSL

/// The server certificate and key, loaded from PEM files and reloadable (SIGHUP) without a
/// restart: connections accepted after `reload()` use the new pair, open ones keep theirs.
public final class TLSContextStore: Sendable {
    public let certificatePath: String
    public let keyPath: String
    private let box: NIOLockedValueBox<NIOSSLContext>

    public struct LoadError: Error, CustomStringConvertible {
        public var description: String
    }

    public init(certificatePath: String, keyPath: String) throws {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        box = NIOLockedValueBox(try Self.load(certificatePath: certificatePath, keyPath: keyPath))
    }

    /// The context for a new TLS session.
    public var current: NIOSSLContext { box.withLockedValue { $0 } }

    /// Reads the files again. On error the old pair stays in use and the error is thrown.
    public func reload() throws {
        let context = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        box.withLockedValue { $0 = context }
    }

    static func load(certificatePath: String, keyPath: String) throws -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            guard !chain.isEmpty else { throw LoadError(description: "no certificate in \(certificatePath)") }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: configuration)
        } catch let error as LoadError {
            throw error
        } catch {
            throw LoadError(description: "cannot load TLS certificate \(certificatePath) / key \(keyPath): \(error)")
        }
    }
}
