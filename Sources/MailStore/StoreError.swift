import PostgresNIO

/// An error from the store, with a message fit to show an administrator. Server and connection
/// details are kept out of the description unless they help (the location of an unreachable
/// database is named; SQL text and bound values never are).
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        enum Base: String { case unreachable, notFound, alreadyExists, conflict, invalid, migration, temporary, overQuota }
        let base: Base
        public var description: String { base.rawValue }
        /// The database cannot be reached (connection refused, timed out, authentication failed).
        public static let unreachable = Kind(base: .unreachable)
        /// The named row does not exist.
        public static let notFound = Kind(base: .notFound)
        /// A row with that name already exists.
        public static let alreadyExists = Kind(base: .alreadyExists)
        /// The change would break a rule of the schema (alias domain chains, a domain still in use…).
        public static let conflict = Kind(base: .conflict)
        /// The input itself is not acceptable.
        public static let invalid = Kind(base: .invalid)
        /// A migration failed or the schema is not what this version expects.
        public static let migration = Kind(base: .migration)
        /// The change would take an account or its domain over its quota.
        public static let overQuota = Kind(base: .overQuota)
        /// Anything else from the database: worth retrying.
        public static let temporary = Kind(base: .temporary)
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// Maps a PostgresNIO error to a store error. `what` names the thing being changed.
    static func from(_ error: any Error, location: String) -> StoreError {
        if let store = error as? StoreError { return store }
        guard let psql = error as? PSQLError else {
            return StoreError(.temporary, "database error: \(error)")
        }
        switch psql.code {
        case .server:
            let state = psql.serverInfo?[.sqlState] ?? ""
            let message = psql.serverInfo?[.message] ?? "server error"
            switch state {
            case "23505": return StoreError(.alreadyExists, message)
            case "23503", "23514", "23502", "23P01": return StoreError(.conflict, message)
            case "22001", "22003", "22P02", "22023": return StoreError(.invalid, message)
            case "28000", "28P01", "3D000":
                return StoreError(.unreachable, "cannot use the database at \(location): \(message)")
            default:
                return StoreError(.temporary, "database error \(state): \(message)")
            }
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
             .sslUnsupported, .failedToAddSSLHandler, .unsupportedAuthMechanism, .authMechanismRequiresPassword, .saslError:
            var reason = "\(psql.code)"
            if let underlying = psql.underlying { reason = "\(underlying)" }
            return StoreError(.unreachable, "cannot reach the database at \(location): \(reason)")
        default:
            return StoreError(.temporary, "database error: \(psql.code)")
        }
    }
}
