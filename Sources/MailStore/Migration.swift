/// One schema migration: `migrations/NNNN_name.sql`, applied once, in order, in a transaction.
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// The file name it comes from, `0001_directory.sql`.
    public var fileName: String {
        let digits = String(version)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits + "_" + name + ".sql"
    }

    /// Parses a file name of the form `NNNN_name.sql`; nil for anything else.
    public static func parseFileName(_ file: String) -> (version: Int, name: String)? {
        guard file.hasSuffix(".sql") else { return nil }
        let stem = file.dropLast(4)
        guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else { return nil }
        let name = String(stem[stem.index(after: underscore)...])
        guard !name.isEmpty else { return nil }
        return (version, name)
    }

    /// The migrations compiled into this binary (generated from `migrations/` by
    /// `scripts/embed_migrations.py`; a test checks the two agree).
    public static var embedded: [Migration] { EmbeddedMigrations.all }
}
