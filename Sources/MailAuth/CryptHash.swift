import CCrypt

/// libxcrypt's `crypt_r`: every crypt(3) format the system library knows (`$6$`, `$5$`, `$1$`,
/// `$2b$`/`$2y$`, yescrypt `$y$`, and the old DES form). Blocking: call it off the event loops.
enum CryptHash {
    /// Hashes `password` with the setting (salt and parameters) taken from `setting`; nil when
    /// the library refuses the setting (unknown or disabled method, malformed salt).
    static func crypt(_ password: String, setting: String) -> String? {
        // struct crypt_data is ~32 KiB: heap-allocated and zeroed, as crypt_r requires.
        let data = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<crypt_data>.size,
                                                    alignment: MemoryLayout<crypt_data>.alignment)
        data.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<crypt_data>.size)
        defer {
            // Scrub: the buffer held the password.
            data.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<crypt_data>.size)
            data.deallocate()
        }
        let typed = data.assumingMemoryBound(to: crypt_data.self)
        guard let result = crypt_r(password, setting, typed) else { return nil }
        let output = String(cString: result)
        // libxcrypt signals failure with a string starting with '*' rather than NULL.
        if output.hasPrefix("*") { return nil }
        return output
    }

    /// Makes a setting string for a new hash of the given prefix (`$6$`, `$y$`, `$2b$`…).
    static func setting(prefix: String, cost: UInt = 0) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        guard crypt_gensalt_rn(prefix, cost, nil, 0, &buffer, Int32(buffer.count)) != nil else { return nil }
        let setting = String(cString: buffer)
        return setting.hasPrefix("*") ? nil : setting
    }
}
