import NIOConcurrencyHelpers
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// The PostgreSQL connection pool every part of the store goes through.
///
/// The pool (PostgresNIO's `PostgresClient`) needs a running task; ``withDatabase(_:options:logger:_:)``
/// scopes one around a body of work, which is what the CLI does. A server runs ``run()`` in its
/// service group instead.
public final class Database: Sendable {
    public struct Options: Sendable {
        /// Most connections one node opens. Each PostgreSQL connection costs the server a process.
        public var maximumConnections: Int = 20
        /// How long to wait for a connection before calling the database unreachable.
        public var connectTimeout: Duration = .seconds(10)
        /// How long a request may wait for a pooled connection (and a query for its first
        /// answer) before failing as `.unreachable`. The pool keeps retrying a database that is
        /// down and would make callers wait forever; SMTP must answer 451 instead.
        public var requestTimeout: Duration = .seconds(30)
        public init() {}
    }

    public let url: DatabaseURL
    public let client: PostgresClient
    let requestTimeout: Duration
    public let logger: Logger

    public init(url: DatabaseURL, options: Options = .init(), logger: Logger) throws {
        self.url = url
        self.logger = logger
        self.requestTimeout = options.requestTimeout
        var configuration: PostgresClient.Configuration
        switch url.endpoint {
        case .tcp(let host, let port):
            configuration = .init(host: host, port: port, username: url.username, password: url.password,
                                  database: url.database, tls: try Self.clientTLS(url.tls))
        case .unixSocket(let directory, let port):
            configuration = .init(unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: url.username,
                                  password: url.password, database: url.database)
        }
        configuration.options.maximumConnections = options.maximumConnections
        configuration.options.connectTimeout = options.connectTimeout
        // The pool's background logger: PostgresNIO warns when a request arrives in the instant
        // before run() has started, which withDatabase does by design; keep that out of CLI output.
        var background = logger
        background.logLevel = max(logger.logLevel, .error)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: background)
        self.connectTimeout = options.connectTimeout
    }

    let connectTimeout: Duration

    static func clientTLS(_ mode: DatabaseURL.TLSMode) throws -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: return .disable
        case .prefer: return .prefer(.makeClientConfiguration())
        case .require: return .require(.makeClientConfiguration())
        }
    }

    /// Runs the pool until cancelled (a server's service group does this).
    public func run() async { await client.run() }

    /// Opens the pool, checks that the database answers, runs `body`, and closes the pool.
    public static func withDatabase<Result: Sendable>(
        _ url: DatabaseURL, options: Options = .init(), logger: Logger,
        _ body: @Sendable (Database) async throws -> Result
    ) async throws -> Result {
        let database = try Database(url: url, options: options, logger: logger)
        try await database.probe()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }

    /// Connects once, outside the pool, so that an unreachable database is reported at once and
    /// by name instead of requests waiting on a pool that keeps retrying.
    public func probe() async throws {
        let connection = try await connectDirect()
        try? await connection.close()
    }

    /// A connection of its own, outside the pool (for LISTEN, which holds a connection for as
    /// long as it listens). The caller closes it.
    public func connectDirect() async throws -> PostgresConnection {
        let tls: PostgresConnection.Configuration.TLS
        var configuration: PostgresConnection.Configuration
        switch url.endpoint {
        case .tcp(let host, let port):
            switch url.tls {
            case .disable: tls = .disable
            case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            configuration = .init(host: host, port: port, username: url.username, password: url.password,
                                  database: url.database, tls: tls)
        case .unixSocket(let directory, let port):
            configuration = .init(unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: url.username,
                                  password: url.password, database: url.database)
        }
        let seconds = connectTimeout.components.seconds
        configuration.options.connectTimeout = .seconds(seconds)
        do {
            return try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: 0, logger: logger)
        } catch {
            throw StoreError.from(error, location: url.location)
        }
    }

    /// Runs a query, mapping errors to ``StoreError``.
    @discardableResult
    func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        do {
            return try await withRequestTimeout { started in
                let rows = try await self.client.query(query, logger: self.logger)
                started()
                return rows
            }
        } catch { throw mapError(error) }
    }

    /// Runs a prepared statement (parsed and planned once per pooled connection, then only bound
    /// and executed) and returns its rows, mapping errors to ``StoreError``.
    func execute<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        do { return try await executeUnmapped(statement) } catch { throw mapError(error) }
    }

    /// Runs a prepared statement and returns its rows, leaving PostgresNIO's errors as they are
    /// for a caller that must tell them apart (`AcceptBatch.provesNothingCommitted`). No
    /// connection within the request timeout is still a ``StoreError``.
    func executeUnmapped<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        try await withRequestTimeout { started in
            let rows = try await client.execute(statement, logger: logger)
            started()
            var all: [Statement.Row] = []
            for try await row in rows { all.append(row) }
            return all
        }
    }

    /// Runs `body` in one transaction, mapping errors to ``StoreError``.
    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        do {
            return try await withRequestTimeout { started in
                try await client.withTransaction(logger: logger) { connection in
                    started()
                    return try await body(connection)
                }
            }
        } catch let error as PostgresTransactionError {
            throw mapError(error.closureError ?? error.commitError ?? error.beginError ?? error)
        } catch {
            throw mapError(error)
        }
    }

    func mapError(_ error: any Error) -> StoreError { StoreError.from(error, location: url.location) }

    /// Runs `operation`, failing it as unreachable when it has not called `started` within
    /// `requestTimeout` (no connection could be had). Once started it runs to its end.
    func withRequestTimeout<Result: Sendable>(
        _ operation: (_ started: @escaping @Sendable () -> Void) async throws -> Result
    ) async throws -> Result {
        let flag = NIOLockedValueBox(false)
        let timeout = requestTimeout
        let url = self.url
        return try await withoutActuallyEscaping(operation) { operation in
            try await withThrowingTaskGroup(of: Result?.self) { group in
                nonisolated(unsafe) let operation = operation
                group.addTask { try await operation { flag.withLockedValue { $0 = true } } }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    if flag.withLockedValue({ $0 }) { return nil }
                    throw StoreError(.unreachable, "cannot reach the database at \(url.location): no connection within \(timeout)")
                }
                while let next = try await group.next() {
                    if let result = next {
                        group.cancelAll()
                        return result
                    }
                }
                throw StoreError(.temporary, "database request ended without a result")
            }
        }
    }
}
