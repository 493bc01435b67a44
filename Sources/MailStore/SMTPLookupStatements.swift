import Foundation
import PostgresNIO

// The two look-ups every inbound SMTP message makes (MAIL's access rules, RCPT's recipient), as
// prepared statements: each pooled connection parses and plans them once, then only binds and
// executes them. Parsing and planning were about 15 % of PostgreSQL's CPU in the SMTP benchmark
// (docs/benchmarks.md). The names carry a version: change the SQL, change the name.

/// MAIL FROM's client rule for an IP (NULL: not wanted) and sender rule for an address's three
/// patterns (NULLs: none), as `Directory.mailAccess` answers them.
struct MailAccessStatement: PostgresPreparedStatement {
    static let name = "petrel_mail_access_v2"
    static let sql = """
        (SELECT id, kind, network::text, action, reply, created_at FROM access_rules
         WHERE kind = 'client' AND network >>= $1::inet ORDER BY masklen(network) DESC, id LIMIT 1)
        UNION ALL
        (SELECT id, kind, pattern, action, reply, created_at FROM access_rules
         WHERE kind = 'sender' AND pattern IN ($2, $3, $4)
         ORDER BY CASE pattern WHEN $2 THEN 0 WHEN $3 THEN 1 ELSE 2 END LIMIT 1)
        """
    static let bindingDataTypes: [PostgresDataType] = [.text, .text, .text, .text]
    typealias Row = AccessRule

    var ip: String?
    var patterns: (String, String, String)?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(ip)
        bindings.append(patterns?.0)
        bindings.append(patterns?.1)
        bindings.append(patterns?.2)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> AccessRule {
        Directory.rule(try row.decode((Int64, String, String, String, String, Date).self))
    }
}

/// RCPT's look-up of a plain address (`petrel_recipient_lookup`, migration 0005).
struct RecipientLookupStatement: PostgresPreparedStatement {
    static let name = "petrel_recipient_lookup_v1"
    static let sql = "SELECT * FROM petrel_recipient_lookup($1, $2, $3, $4, $5)"
    static let bindingDataTypes: [PostgresDataType] = [.text, .text, .text, .text, .text]
    typealias Row = RecipientLookup

    var address: String
    var domain: String
    var patterns: (String, String, String)?

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(address)
        bindings.append(domain)
        bindings.append(patterns?.0)
        bindings.append(patterns?.1)
        bindings.append(patterns?.2)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> RecipientLookup {
        let c = row.makeRandomAccess()
        var rule: AccessRule?
        if let id = try c[14].decode(Int64?.self) {
            rule = Directory.rule((id, try c[15].decode(String.self), try c[16].decode(String.self),
                                   try c[17].decode(String.self), try c[18].decode(String.self), try c[19].decode(Date.self)))
        }
        guard try c[0].decode(Bool.self) else { return RecipientLookup(delivery: .notOurs, rule: rule) }
        guard try c[1].decode(Bool.self), try !c[2].decode(Bool.self), let id = try c[3].decode(Int64?.self),
              let stored = try c[4].decode(String?.self), let inbox = try c[5].decode(Int64?.self) else {
            return RecipientLookup(delivery: .resolve, rule: rule)
        }
        let account = DeliveryAccount(
            accountID: id, address: stored, inboxID: inbox,
            quotas: (try c[6].decode(Int64.self), try c[7].decode(Int64.self), try c[8].decode(Int64.self),
                     try c[9].decode(Int64.self)),
            domainQuotas: (try c[10].decode(Int64.self), try c[11].decode(Int64.self), try c[12].decode(Int64.self),
                           try c[13].decode(Int64.self)))
        return RecipientLookup(delivery: .account(account), rule: rule)
    }
}

/// What `RecipientLookupStatement` answers.
struct RecipientLookup: Sendable {
    var delivery: DirectDelivery
    var rule: AccessRule?
}
