import MailCore

/// Turns command-line text into canonical names, with errors that say what was wrong.
enum Parse {
    static func domain(_ text: String) throws -> DomainName {
        do { return try DomainName(text) } catch { throw CLIError("invalid domain '\(text)': \(error)") }
    }

    static func address(_ text: String) throws -> EmailAddress {
        do { return try EmailAddress(text) } catch { throw CLIError("invalid address '\(text)': \(error)") }
    }

    static func aliasSource(_ text: String) throws -> AliasSource {
        do { return try AliasSource(text) } catch { throw CLIError("invalid alias '\(text)': \(error) (give user@domain, or @domain for a catch-all)") }
    }

    /// Sizes as admins write them: `1048576`, `500M`, `2G`, `1.5GiB`, `0` (no limit).
    static func size(_ text: String) throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let k = 1024.0, m = k * k, g = m * k, t = g * k
        let units: [(String, Double)] = [("TIB", t), ("GIB", g), ("MIB", m), ("KIB", k), ("TB", t), ("GB", g), ("MB", m),
                                         ("KB", k), ("T", t), ("G", g), ("M", m), ("K", k), ("B", 1)]
        var number = Substring(trimmed)
        var multiplier = 1.0
        for (suffix, value) in units where trimmed.hasSuffix(suffix) {
            number = trimmed.dropLast(suffix.count)
            multiplier = value
            break
        }
        guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value >= 0, value.isFinite,
              value * multiplier < Double(Int64.max) else {
            throw CLIError("invalid size '\(text)': give bytes, or a number with K, M, G or T (powers of 1024)")
        }
        return Int64(value * multiplier)
    }
}
