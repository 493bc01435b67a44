import CLDAP
import Foundation

/// An LDAP failure, sorted by what the caller does about it.
enum LDAPError: Error, Equatable, CustomStringConvertible {
    /// The directory cannot be reached or did not answer in time: a temporary failure.
    case unavailable(String)
    /// A bind was refused: wrong password (for a user), misconfiguration (for the service).
    case invalidCredentials
    /// Anything else the server said.
    case failed(code: Int32, message: String)

    var description: String {
        switch self {
        case .unavailable(let why): return "directory unavailable: \(why)"
        case .invalidCredentials: return "invalid credentials"
        case .failed(let code, let message): return "LDAP error \(code): \(message)"
        }
    }

    static func from(_ code: Int32, _ context: String) -> LDAPError {
        let message = "\(context): " + String(cString: ldap_err2string(code))
        switch code {
        case LDAP_INVALID_CREDENTIALS: return .invalidCredentials
        case LDAP_SERVER_DOWN, LDAP_TIMEOUT, LDAP_CONNECT_ERROR, LDAP_BUSY, LDAP_UNAVAILABLE, LDAP_TIMELIMIT_EXCEEDED,
             LDAP_ADMINLIMIT_EXCEEDED, LDAP_OTHER, LDAP_LOCAL_ERROR, LDAP_NO_MEMORY:
            return .unavailable(message)
        default: return .failed(code: code, message: message)
        }
    }
}

/// One entry of a search result.
struct LDAPEntry: Sendable, Equatable {
    var dn: String
    /// Attribute names as asked for (case preserved), values as UTF-8 text.
    var attributes: [String: [String]]

    func values(_ attribute: String) -> [String] {
        attributes.first { $0.key.lowercased() == attribute.lowercased() }?.value ?? []
    }
}

/// One connection to the directory through libldap. Every call blocks: use it on a thread
/// pool only, and from one thread at a time (``LDAPDirectory`` sees to both).
final class LDAPConnection: @unchecked Sendable {
    private var handle: OpaquePointer?
    /// Who the connection is bound as now (nil: nobody yet, or anonymous).
    private(set) var boundDN: String?
    /// False once it must not go back to the pool.
    var reusable = true

    /// Connects (lazily: libldap opens the socket at the first operation, so StartTLS does it
    /// here) with LDAPv3, the timeouts, no referral chasing and the TLS settings.
    init(_ settings: LDAPSettings) throws {
        var ld: OpaquePointer?
        var rc = ldap_initialize(&ld, settings.uri)
        guard rc == LDAP_SUCCESS, let ld else { throw LDAPError.failed(code: rc, message: "bad LDAP URI \(settings.uri)") }
        handle = ld
        var version = LDAP_VERSION3
        ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version)
        let seconds = settings.effectiveTimeout
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &timeout)
        ldap_set_option(ld, LDAP_OPT_TIMEOUT, &timeout)
        ldap_set_option(ld, LDAP_OPT_REFERRALS, nil)   // LDAP_OPT_OFF
        var requireCertificate = settings.verifiesCertificates ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER
        ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &requireCertificate)
        if let caFile = settings.caFile {
            ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, caFile)
        }
        // The TLS options above take effect in a context of this handle's own.
        var isServer: Int32 = 0
        ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &isServer)
        if settings.usesStartTLS {
            rc = ldap_start_tls_s(ld, nil, nil)
            guard rc == LDAP_SUCCESS else {
                // A refused StartTLS is a configuration or certificate problem, and the mail
                // admin's to fix; to the client it is a temporary failure, never a fallback.
                throw LDAPError.unavailable("StartTLS failed: " + String(cString: ldap_err2string(rc)))
            }
        }
    }

    deinit {
        if let handle { ldap_unbind_ext_s(handle, nil, nil) }
    }

    /// A simple bind (RFC 4513 §5.1). An empty password is refused here, before it reaches
    /// the wire: with a DN it would be an "unauthenticated bind" that many servers accept.
    func bind(dn: String, password: String) throws {
        guard !password.isEmpty, !dn.isEmpty else { throw LDAPError.invalidCredentials }
        boundDN = nil
        var bytes = Array(password.utf8)
        let rc = bytes.withUnsafeMutableBufferPointer { buffer -> Int32 in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) { pointer in
                var credentials = berval(bv_len: ber_len_t(buffer.count), bv_val: pointer)
                return ldap_sasl_bind_s(handle, dn, nil, &credentials, nil, nil, nil)   // nil: LDAP_SASL_SIMPLE
            }
        }
        for i in bytes.indices { bytes[i] = 0 }
        guard rc == LDAP_SUCCESS else { throw LDAPError.from(rc, "bind") }
        boundDN = dn
    }

    /// A search returning at most `limit` entries (more is reported as `limit + 1` entries'
    /// worth: the caller treats it as ambiguous).
    func search(base: String, scope: String, filter: String, attributes: [String], limit: Int32) throws -> [LDAPEntry] {
        let scopeValue: Int32
        switch scope {
        case "base": scopeValue = LDAP_SCOPE_BASE
        case "one": scopeValue = LDAP_SCOPE_ONELEVEL
        default: scopeValue = LDAP_SCOPE_SUBTREE
        }
        var cAttributes: [UnsafeMutablePointer<CChar>?] = attributes.map { strdup($0) } + [nil]
        defer { for pointer in cAttributes { free(pointer) } }
        var result: OpaquePointer?
        let rc = ldap_search_ext_s(handle, base, scopeValue, filter, &cAttributes, 0, nil, nil, nil, limit + 1, &result)
        defer { if let result { ldap_msgfree(result) } }
        // LDAP_NO_SUCH_OBJECT (the base DN does not exist) is a misconfiguration, never "no such user".
        guard rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED else {
            throw LDAPError.from(rc, "search")
        }
        var entries: [LDAPEntry] = []
        var entry = ldap_first_entry(handle, result)
        while let current = entry {
            var dn = ""
            if let cDN = ldap_get_dn(handle, current) {
                dn = String(cString: cDN)
                ldap_memfree(cDN)
            }
            var values: [String: [String]] = [:]
            for attribute in attributes {
                guard let list = ldap_get_values_len(handle, current, attribute) else { continue }
                let count = Int(ldap_count_values_len(list))
                var texts: [String] = []
                for i in 0 ..< count {
                    guard let value = list[i]?.pointee, let bytes = value.bv_val else { continue }
                    let buffer = UnsafeRawBufferPointer(start: bytes, count: Int(value.bv_len))
                    if let text = String(validating: buffer, as: UTF8.self) { texts.append(text) }
                }
                ldap_value_free_len(list)
                values[attribute] = texts
            }
            entries.append(LDAPEntry(dn: dn, attributes: values))
            entry = ldap_next_entry(handle, current)
        }
        return entries
    }
}
