import ArgumentParser
import Foundation
import MailAuth
import MailStore

/// `petrel domain auth`: which backend checks a domain's passwords.
struct DomainAuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth",
        abstract: "Choose how a domain's users log in: sql (the accounts table, the default), ldap or cyrus.",
        discussion: """
            petrel domain auth set corp.example ldap --uri ldaps://ldap.corp.example \\
                --base-dn ou=people,dc=corp,dc=example --bind-dn cn=petrel,ou=services,dc=corp,dc=example \\
                --bind-password-file /etc/petrel/ldap.secret --filter '(&(objectClass=inetOrgPerson)(mail=%s))'
            petrel domain auth set legacy.example cyrus --username local_part
            petrel domain auth show corp.example
            petrel domain auth set corp.example sql        # back to the accounts table
            In filters, %s is the login address, %u its local part, %d its domain (each escaped per RFC 4515).
            docs/authentication.md has OpenLDAP and Active Directory examples.
            """,
        subcommands: [Set.self, Show.self]
    )

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a domain's authentication backend.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The domain.") var domain: String
        @Argument(help: "sql, ldap or cyrus.") var backend: String

        @Option(help: "LDAP: ldap://host[:port] or ldaps://host[:port] (several, space-separated, are tried in order).") var uri: String?
        @Option(name: .customLong("base-dn"), help: "LDAP: where users are searched.") var baseDN: String?
        @Option(name: .customLong("filter"), help: "LDAP: the user search filter (default \(LDAPSettings.defaultUserFilter)).") var filter: String?
        @Option(name: .customLong("recipient-filter"), help: "LDAP: the filter for RCPT (default: --filter), e.g. with mailAlternateAddress.") var recipientFilter: String?
        @Option(name: .customLong("bind-dn"), help: "LDAP: the service account that searches (anonymous search without it).") var bindDN: String?
        @Option(name: .customLong("bind-password-file"), help: "LDAP: a file holding the service account's password.") var bindPasswordFile: String?
        @Flag(name: .customLong("start-tls"), help: "LDAP: StartTLS on an ldap:// URI.") var startTLS = false
        @Option(name: .customLong("ca-file"), help: "LDAP: CA certificates (PEM) for the directory's certificate.") var caFile: String?
        @Flag(name: .customLong("no-tls-verify"), help: "LDAP: do not check the directory's certificate (a lab only).") var noTLSVerify = false
        @Option(help: "LDAP: sub (default), one or base.") var scope: String?
        @Option(name: .customLong("mail-attribute"), help: "LDAP: the address attribute (default mail).") var mailAttribute: String?
        @Option(name: .customLong("alias-attribute"), help: "LDAP: other addresses of the user, made aliases (e.g. mailAlternateAddress).") var aliasAttribute: String?
        @Option(name: .customLong("quota-attribute"), help: "LDAP: the quota in bytes (e.g. mailQuota).") var quotaAttribute: String?
        @Option(name: .customLong("name-attribute"), help: "LDAP: the display name (default displayName).") var nameAttribute: String?
        @Option(help: "LDAP: seconds for connecting and for each operation (default 5).") var timeout: Double?
        @Option(name: .customLong("pool-size"), help: "LDAP: connections per node (default 4).") var poolSize: Int?

        @Option(help: "Cyrus: the service name for libsasl2 (default: the protocol's, smtp, imap or pop3).") var service: String?
        @Option(help: "Cyrus: the realm.") var realm: String?
        @Option(help: "Cyrus: pass the login as `address` (default) or `local_part`.") var username: String?

        func run() async throws {
            try await reportingErrors {
                let domain = try Parse.domain(self.domain)
                guard let kind = AuthBackendKind(rawValue: backend.lowercased()) else {
                    throw CLIError("backend must be sql, ldap or cyrus")
                }
                let json = try settingsJSON(kind)
                let context = try await CommandContext.make(global)
                try await context.withDirectory { directory in
                    if kind == .sql {
                        try await directory.removeDomainAuth(domain)
                    } else {
                        try await directory.setDomainAuth(domain, backend: kind.rawValue, settingsJSON: json)
                    }
                }
                print("\(domain): authentication by \(kind.rawValue)")
            }
        }

        func settingsJSON(_ kind: AuthBackendKind) throws -> String {
            switch kind {
            case .sql:
                return "{}"
            case .ldap:
                guard let uri, let baseDN else { throw CLIError("ldap needs --uri and --base-dn") }
                var settings = LDAPSettings(uri: uri, baseDN: baseDN)
                settings.userFilter = filter
                settings.recipientFilter = recipientFilter
                settings.bindDN = bindDN
                if let bindPasswordFile {
                    guard let text = try? String(contentsOfFile: bindPasswordFile, encoding: .utf8) else {
                        throw CLIError("cannot read \(bindPasswordFile)")
                    }
                    settings.bindPassword = text.trimmingCharacters(in: .newlines)
                }
                settings.startTLS = startTLS ? true : nil
                settings.caFile = caFile
                settings.tlsVerify = noTLSVerify ? false : nil
                settings.scope = scope
                settings.mailAttribute = mailAttribute
                settings.aliasAttribute = aliasAttribute
                settings.quotaAttribute = quotaAttribute
                settings.nameAttribute = nameAttribute
                settings.timeout = timeout
                settings.poolSize = poolSize
                if let problem = settings.problem() { throw CLIError("ldap: \(problem)") }
                return try settings.json()
            case .cyrus:
                let settings = CyrusSettings(service: service, realm: realm, username: username)
                if let problem = settings.problem() { throw CLIError("cyrus: \(problem)") }
                return try settings.json()
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the backends set (all domains, or one). The bind password is not shown.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The domain (all when left out).") var domain: String?

        func run() async throws {
            try await reportingErrors {
                let domain = try self.domain.map(Parse.domain)
                let context = try await CommandContext.make(global)
                let records = try await context.withDirectory { try await $0.domainAuths(matching: domain) }
                if records.isEmpty {
                    print(domain.map { "\($0): sql (the accounts table)" } ?? "every domain authenticates against the accounts table (sql)")
                }
                for record in records {
                    var settings = record.settingsJSON
                    if var ldap = try? LDAPSettings.decode(json: settings), ldap.bindPassword != nil {
                        ldap.bindPassword = "********"
                        settings = (try? ldap.json()) ?? settings
                    }
                    print("\(record.domain): \(record.backend) \(settings)")
                }
            }
        }
    }
}
