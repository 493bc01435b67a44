/// Open SMTP sessions kept between messages, so that deliveries to one address share a
/// connection (Postfix's connection cache: `smtp_connection_cache_time_limit` 2 s idle,
/// `smtp_connection_reuse_time_limit` 300 s in all). A session is taken out while a message
/// uses it and put back after a clean transaction; an idle one is quit after `idleLimit`.
actor SMTPConnectionCache {
    /// What a session is reused for: the same host name and address, port, TLS policy and
    /// credentials — a session logged in with one route's password never serves another's.
    struct Endpoint: Hashable, Sendable {
        let host: String
        let address: String
        let port: Int
        let tls: Router.TLSPolicy
        let username: String?
        let password: String?

        init(_ hop: Router.Hop, address: String) {
            host = hop.host.lowercased()
            self.address = address
            port = hop.port
            tls = hop.tls
            username = hop.username
            password = hop.password
        }
    }

    let idleLimit: Duration
    let reuseLimit: Duration
    /// Idle sessions kept per endpoint at most (more are quit at once).
    let perEndpoint: Int

    private var idle: [Endpoint: [(id: Int, session: SMTPClientSession)]] = [:]
    private var nextID = 0

    init(idleLimit: Duration = .seconds(2), reuseLimit: Duration = .seconds(300), perEndpoint: Int = 20) {
        self.idleLimit = idleLimit
        self.reuseLimit = reuseLimit
        self.perEndpoint = perEndpoint
    }

    /// An idle session for `endpoint`, now the caller's; nil when there is none.
    func take(_ endpoint: Endpoint) -> SMTPClientSession? {
        guard var sessions = idle[endpoint], !sessions.isEmpty else { return nil }
        let session = sessions.removeLast().session
        idle[endpoint] = sessions.isEmpty ? nil : sessions
        return session
    }

    /// Keeps `session` for the next message, or quits it when it may not be reused.
    func put(_ session: SMTPClientSession) {
        let endpoint = session.endpoint
        guard session.reusable, session.openedAt.duration(to: .now) < reuseLimit,
              idle[endpoint, default: []].count < perEndpoint else {
            session.quit()
            return
        }
        nextID += 1
        let id = nextID
        idle[endpoint, default: []].append((id, session))
        let limit = idleLimit
        Task { [weak self] in
            try? await Task.sleep(for: limit)
            await self?.expire(endpoint, id)
        }
    }

    private func expire(_ endpoint: Endpoint, _ id: Int) {
        guard var sessions = idle[endpoint], let index = sessions.firstIndex(where: { $0.id == id }) else { return }
        let session = sessions.remove(at: index).session
        idle[endpoint] = sessions.isEmpty ? nil : sessions
        session.quit()
    }

    /// Quits every idle session (the worker stops).
    func closeAll() {
        for sessions in idle.values {
            for entry in sessions { entry.session.quit() }
        }
        idle = [:]
    }
}
