import CSASL
import Foundation
import MailCore
import MailStore
import NIOConcurrencyHelpers
import NIOPosix

/// Password checks through libsasl2's `sasl_checkpass`, with the site's own SASL configuration
/// (`/etc/sasl2/petrel.conf` by default: typically `pwcheck_method: saslauthd`, so saslauthd
/// checks against PAM, LDAP, shadow or an IMAP server), as Postfix does with
/// `smtpd_sasl_type = cyrus`.
///
/// libsasl2 is initialised once per process, and its calls run one at a time on a thread of
/// their own: the library's default mutexes do nothing, and saslauthd answers one request per
/// connection anyway.
public final class CyrusSASL: Sendable {
    public static let shared = CyrusSASL()

    private let thread = NIOThreadPool(numberOfThreads: 1)
    private let state = NIOLockedValueBox<(appName: String, configDirectory: String?, initialized: Int32?)>(("petrel", nil, nil))

    private init() {
        thread.start()
    }

    /// Where libsasl2 finds its configuration: `<configDirectory>/<appName>.conf` (libsasl2's
    /// own search path, /etc/sasl2 first, when nil). Takes effect before the first check only.
    public func configure(appName: String, configDirectory: String?) {
        state.withLockedValue { state in
            guard state.initialized == nil else { return }
            state.appName = appName
            state.configDirectory = configDirectory
        }
    }

    /// How long a check may take before the login gets a temporary failure (saslauthd hung,
    /// or PAM's failure delay piling up behind the one thread).
    public static let timeout: Duration = .seconds(15)

    /// Checks `password` for the login `address`, passed as the settings say; a temporary
    /// failure after ``timeout`` (the blocked call finishes on its thread in its own time).
    public func check(_ address: EmailAddress, password: String, settings: CyrusSettings, service: String) async -> DirectoryVerdict {
        let pending = NIOLockedValueBox<CheckedContinuation<DirectoryVerdict, Never>?>(nil)
        @Sendable func finish(_ verdict: DirectoryVerdict) {
            pending.withLockedValue { continuation in
                continuation?.resume(returning: verdict)
                continuation = nil
            }
        }
        return await withCheckedContinuation { continuation in
            pending.withLockedValue { $0 = continuation }
            let timer = Task {
                try? await Task.sleep(for: Self.timeout)
                finish(.unavailable("no answer from libsasl2 within \(Self.timeout)"))
            }
            Task {
                finish(await self.checkNow(address, password: password, settings: settings, service: service))
                timer.cancel()
            }
        }
    }

    func checkNow(_ address: EmailAddress, password: String, settings: CyrusSettings, service: String) async -> DirectoryVerdict {
        guard !password.isEmpty else { return .rejected("empty password") }
        let username = settings.passesLocalPart ? address.localPart : address.description
        let service = settings.service ?? service
        let realm = settings.realm
        do {
            return try await thread.runIfActive { [self] in
                let initialized = state.withLockedValue { state -> Int32 in
                    if let done = state.initialized { return done }
                    if let directory = state.configDirectory { setenv("SASL_CONF_PATH", directory, 1) }
                    let rc = sasl_server_init(nil, state.appName)
                    if rc == SASL_OK { state.initialized = rc }   // a failure is tried again at the next check
                    return rc
                }
                guard initialized == SASL_OK else {
                    return .unavailable("sasl_server_init failed: " + String(cString: sasl_errstring(initialized, nil, nil)))
                }
                var connection: OpaquePointer?
                var rc = sasl_server_new(service, nil, realm, nil, nil, nil, 0, &connection)
                guard rc == SASL_OK, connection != nil else {
                    return .unavailable("sasl_server_new failed: " + String(cString: sasl_errstring(rc, nil, nil)))
                }
                defer { sasl_dispose(&connection) }
                // libsasl2 hands the password on as a C string (saslauthd_verify_password uses
                // strlen), whatever length is given: both must be NUL-terminated, and a NUL
                // inside cannot be passed on faithfully.
                guard !username.utf8.contains(0), !password.utf8.contains(0) else { return .rejected("NUL in the login") }
                rc = username.withCString { user in
                    password.withCString { pass in
                        sasl_checkpass(connection, user, UInt32(username.utf8.count), pass, UInt32(password.utf8.count))
                    }
                }
                let message = String(cString: sasl_errstring(rc, nil, nil))
                switch rc {
                case SASL_OK: return .accepted(ProvisionedAccount(address: address))
                case SASL_BADAUTH, SASL_NOUSER, SASL_NOVERIFY, SASL_DISABLED, SASL_EXPIRED, SASL_PWLOCK, SASL_NOUSERPASS, SASL_BADPARAM:
                    return .rejected("sasl_checkpass: \(message)")
                default:
                    return .unavailable("sasl_checkpass: \(message) (\(rc))")
                }
            }
        } catch {
            return .unavailable("\(error)")
        }
    }
}
