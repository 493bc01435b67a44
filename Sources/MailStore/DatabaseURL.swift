/// Where the PostgreSQL database is, parsed from a libpq-style URL:
///
///     postgres://user:password@host:5432/dbname?sslmode=require
///     postgres://user@/dbname?host=/path/to/socket/dir      (Unix socket directory)
///
/// `sslmode` is `disable` (default for a Unix socket or a loopback host), `prefer` (default for
/// any other host) or `require` (certificate verified against the system trust store).
/// Percent-escapes are decoded. Error messages never repeat the URL's text.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The directory holding `.s.PGSQL.<port>`, as libpq's `host=/dir`.
        case unixSocket(directory: String, port: Int)
    }

    public enum TLSMode: String, Sendable, Equatable { case disable, prefer, require }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    public init(endpoint: Endpoint, username: String, password: String?, database: String, tls: TLSMode) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// The endpoint as a person would name it in an error ("127.0.0.1:5432", "/run/petrel/.s.PGSQL.5432").
    public var location: String {
        switch endpoint {
        case .tcp(let host, let port): return host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unixSocket(let dir, let port): return "\(dir)/.s.PGSQL.\(port)"
        }
    }

    /// The URL with the password hidden, for logs and messages.
    public var description: String {
        let user = username + (password == nil ? "" : ":***")
        switch endpoint {
        case .tcp: return "postgres://\(user)@\(location)/\(database)"
        case .unixSocket(let dir, _): return "postgres://\(user)@/\(database)?host=\(dir)"
        }
    }

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { "invalid database URL: \(reason)" }
    }

    public init(parsing text: String) throws {
        guard let schemeEnd = text.range(of: "://") else { throw Invalid(reason: "expected postgres://user@host/dbname") }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw Invalid(reason: "the scheme must be postgres:// or postgresql://, not \(scheme)://")
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        var query: [String: String] = [:]
        if let q = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: q)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                // Never echo URL text in errors: a mistyped URL may carry its password there.
                guard parts.count == 2 else { throw Invalid(reason: "a query parameter has no value (write name=value)") }
                query[String(parts[0])] = try Self.decode(parts[1])
            }
            rest = rest[..<q]
        }
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = try Self.decode(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
        }
        var userInfo: Substring = ""
        if let at = rest.lastIndex(of: "@") {
            userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        var username = "postgres"
        var password: String?
        if !userInfo.isEmpty {
            if let colon = userInfo.firstIndex(of: ":") {
                username = try Self.decode(userInfo[..<colon])
                password = try Self.decode(userInfo[userInfo.index(after: colon)...])
            } else {
                username = try Self.decode(userInfo)
            }
        }
        if let u = query["user"] { username = u }
        if let p = query["password"] { password = p }
        var host = ""
        var port = 5432
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw Invalid(reason: "unclosed '[' in host") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
            if rest.hasPrefix(":") { port = try Self.port(rest.dropFirst()) }
        } else if let colon = rest.lastIndex(of: ":") {
            host = try Self.decode(rest[..<colon])
            port = try Self.port(rest[rest.index(after: colon)...])
        } else {
            host = try Self.decode(rest)
        }
        if let h = query["host"] { host = h }
        if let p = query["port"] { port = try Self.port(Substring(p)) }
        if let d = query["dbname"] { path = d }
        guard !host.isEmpty else { throw Invalid(reason: "no host: give host:port, or ?host=/socket/directory") }
        guard !username.isEmpty else { throw Invalid(reason: "the user name is empty") }
        let database = path.isEmpty ? username : path
        let endpoint: Endpoint = host.hasPrefix("/") ? .unixSocket(directory: host, port: port) : .tcp(host: host, port: port)
        let tls: TLSMode
        if let mode = query["sslmode"] {
            switch mode {
            case "disable", "allow": tls = .disable
            case "prefer": tls = .prefer
            case "require", "verify-ca", "verify-full": tls = .require
            default: throw Invalid(reason: "sslmode must be disable, prefer or require")
            }
        } else if case .tcp(let host, _) = endpoint, !Self.isLoopback(host) {
            // As libpq: try TLS first when the database is on another machine.
            tls = .prefer
        } else {
            tls = .disable
        }
        if case .unixSocket = endpoint, tls == .require { throw Invalid(reason: "sslmode=require makes no sense over a Unix socket") }
        self.init(endpoint: endpoint, username: username, password: password, database: database, tls: tls)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    static func port(_ text: Substring) throws -> Int {
        guard let p = Int(text), (1...65535).contains(p) else {
            throw Invalid(reason: "the port is not a number from 1 to 65535 (percent-encode '/', '?', '@' and ':' in a password)")
        }
        return p
    }

    static func decode(_ text: Substring) throws -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let b = iterator.next() {
            if b == UInt8(ascii: "%") {
                guard let h = iterator.next(), let l = iterator.next(),
                      let v = UInt8(String(decoding: [h, l], as: UTF8.self), radix: 16) else {
                    throw Invalid(reason: "a percent-escape is not two hexadecimal digits")
                }
                bytes.append(v)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
