import CArgon2

/// libargon2: Argon2id for new passwords, Argon2id and Argon2i verification of encoded hashes
/// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). Blocking and memory-hard: off the event loops.
public enum Argon2Hash {
    /// Cost parameters. The default is OWASP's first recommendation for Argon2id
    /// (19 MiB, 2 passes, 1 lane): a login costs ~20 ms of one core here.
    public struct Parameters: Sendable, Equatable {
        public var memoryKiB: UInt32
        public var iterations: UInt32
        public var parallelism: UInt32

        public init(memoryKiB: UInt32 = 19_456, iterations: UInt32 = 2, parallelism: UInt32 = 1) {
            self.memoryKiB = memoryKiB
            self.iterations = iterations
            self.parallelism = parallelism
        }

        public static let `default` = Parameters()
    }

    static let saltLength = 16
    static let hashLength = 32

    /// The encoded Argon2id hash of `password` with a fresh random salt.
    static func hash(_ password: String, parameters: Parameters) -> String? {
        var generator = SystemRandomNumberGenerator()
        let salt = (0..<saltLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let length = argon2_encodedlen(parameters.iterations, parameters.memoryKiB, parameters.parallelism,
                                       UInt32(saltLength), UInt32(hashLength), Argon2_id)
        var encoded = [CChar](repeating: 0, count: length)
        let bytes = Array(password.utf8)
        let status = bytes.withUnsafeBytes { pwd in
            salt.withUnsafeBytes { s in
                argon2id_hash_encoded(parameters.iterations, parameters.memoryKiB, parameters.parallelism,
                                      pwd.baseAddress, pwd.count, s.baseAddress, s.count, hashLength,
                                      &encoded, encoded.count)
            }
        }
        guard status == ARGON2_OK.rawValue else { return nil }
        return String(cString: encoded)
    }

    /// Verifies against an encoded hash; argon2_verify compares in constant time.
    static func verify(_ password: String, encoded: String, type: argon2_type) -> Bool {
        let bytes = Array(password.utf8)
        let status = bytes.withUnsafeBytes { pwd in
            argon2_verify(encoded, pwd.baseAddress, pwd.count, type)
        }
        return status == ARGON2_OK.rawValue
    }
}
