#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MailStore

/// Petrel's own PostgreSQL cluster under `PETREL_HOME`, for the embedded default (`petrel dev`,
/// `make run`): initialised on first use, reachable only through a Unix socket in a private
/// directory (`listen_addresses = ''`), run as an unprivileged user when Petrel runs as root
/// (PostgreSQL refuses to run as root).
struct EmbeddedPostgres {
    let home: String
    /// Where the cluster lives: `PETREL_HOME/postgres`, unless that path cannot serve (see init).
    let root: String
    let binDirectory: String
    /// The user PostgreSQL runs as when we are root; nil when we are not root.
    let runAs: String?

    static let databaseName = "petrel"
    static let superuser = "petrel"
    static let systemUser = "petrel"

    var dataDirectory: String { root + "/data" }
    var socketDirectory: String { root + "/run" }
    var logFile: String { root + "/postgres.log" }
    var isInitialised: Bool { FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") }

    var url: DatabaseURL {
        DatabaseURL(endpoint: .unixSocket(directory: socketDirectory, port: 5432), username: Self.superuser,
                    password: nil, database: Self.databaseName, tls: .disable)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(home: String) throws {
        self.home = home
        guard let initdb = Subprocess.find("initdb", extraDirectories: Self.debianBinDirectories()) else {
            throw Failure(description: "no PostgreSQL server binaries (initdb) found in PATH or /usr/lib/postgresql/*/bin; "
                + "install them with: apt-get install postgresql")
        }
        // Follow symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb) to find pg_ctl, psql, createdb beside it.
        self.binDirectory = (URL(fileURLWithPath: initdb).resolvingSymlinksInPath().path as NSString).deletingLastPathComponent
        self.runAs = geteuid() == 0 ? Self.systemUser : nil
        // A Unix socket path is limited to 107 bytes, and when we are root the unprivileged
        // user must be able to reach the directory. If PETREL_HOME fails either test, the
        // cluster lives in /var/lib/petrel/clusters instead, recorded in PETREL_HOME/postgres-location.
        let preferred = home + "/postgres"
        let pointer = home + "/postgres-location"
        if let recorded = try? String(contentsOfFile: pointer, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
           !recorded.isEmpty {
            self.root = recorded
        } else if (preferred + "/run/.s.PGSQL.5432").utf8.count > 100 || (runAs != nil && !Self.traversableByOthers(home)) {
            // FNV-1a of the path: stable across runs (Swift's hashValue is seeded per process).
            let key = String(home.utf8.reduce(UInt64(0xcbf29ce484222325)) { ($0 ^ UInt64($1)) &* 0x100000001b3 }, radix: 16)
            self.root = "/var/lib/petrel/clusters/embedded-\(key)"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            try root.write(toFile: pointer, atomically: true, encoding: .utf8)
        } else {
            self.root = preferred
        }
    }

    static func debianBinDirectories() -> [String] {
        let base = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []).compactMap(Int.init).sorted(by: >)
        return versions.map { "\(base)/\($0)/bin" }
    }

    /// Whether every directory from / down to `path` lets other users through (o+x).
    static func traversableByOthers(_ path: String) -> Bool {
        var current = ""
        for component in path.split(separator: "/") {
            current += "/" + component
            var info = stat()
            guard stat(current, &info) == 0 else { return true }  // created later, by us, with 0755
            if info.st_mode & S_IXOTH == 0 { return false }
        }
        return true
    }

    /// Runs a PostgreSQL program, as the unprivileged user when we are root.
    private func pg(_ program: String, _ arguments: [String], outputFile: String? = nil) throws -> Subprocess.Result {
        // PostgreSQL's programs chdir back to their working directory: start them in the cluster's
        // own directory, which the unprivileged user can enter (the caller's may be /root).
        var command = ["env", "-C", root, binDirectory + "/" + program] + arguments
        if let runAs {
            command = ["runuser", "-u", runAs, "--"] + command
        }
        return try Subprocess.run(command, outputFile: outputFile)
    }

    private func ensureSystemUser() throws {
        guard let runAs, getpwnam(runAs) == nil else { return }
        let result = try Subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                                         "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", runAs])
        guard result.status == 0 else {
            throw Failure(description: "cannot create the system user '\(runAs)' for PostgreSQL: \(result.output)")
        }
    }

    private func prepareDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        chmod(path, 0o700)
        if let runAs, let pw = getpwnam(runAs) {
            guard chown(path, pw.pointee.pw_uid, pw.pointee.pw_gid) == 0 else {
                throw Failure(description: "cannot hand \(path) to user \(runAs): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Creates the cluster if it does not exist yet. Returns true when it was created now.
    @discardableResult
    func initialiseIfNeeded() throws -> Bool {
        guard !isInitialised else { return false }
        try ensureSystemUser()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        chmod(root, 0o755)
        try prepareDirectory(dataDirectory)
        try prepareDirectory(socketDirectory)
        // trust is safe here: the only way in is the socket in a 0700 directory.
        let result = try pg("initdb", ["-D", dataDirectory, "-U", Self.superuser, "--auth=trust",
                                       "--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"])
        guard result.status == 0 else {
            throw Failure(description: "initdb failed (exit \(result.status)):\n\(result.output)")
        }
        return true
    }

    var isRunning: Bool {
        guard isInitialised, let result = try? pg("pg_ctl", ["status", "-D", dataDirectory]) else { return false }
        return result.status == 0
    }

    /// Starts the cluster (and creates the `petrel` database) unless it is already running.
    func startIfNeeded() throws {
        try initialiseIfNeeded()
        if !isRunning {
            try prepareDirectory(socketDirectory)
            if !FileManager.default.fileExists(atPath: logFile) {
                _ = FileManager.default.createFile(atPath: logFile, contents: nil)
                if let runAs, let pw = getpwnam(runAs) { chown(logFile, pw.pointee.pw_uid, pw.pointee.pw_gid) }
            }
            // pg_ctl hands -o to a shell: quote the path (and refuse the one character that breaks quoting).
            guard !socketDirectory.contains("'") else { throw Failure(description: "PETREL_HOME cannot contain a single quote") }
            let options = "-c listen_addresses='' -k '\(socketDirectory)' -c unix_socket_permissions=0700"
            let result = try pg("pg_ctl", ["start", "-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-o", options])
            guard result.status == 0 else {
                let tail = (try? String(contentsOfFile: logFile, encoding: .utf8))?.split(separator: "\n").suffix(10).joined(separator: "\n") ?? ""
                throw Failure(description: "PostgreSQL did not start (exit \(result.status)):\n\(result.output)\n\(tail)")
            }
        }
        let exists = try pg("psql", ["-h", socketDirectory, "-U", Self.superuser, "-d", "postgres", "-tAc",
                                     "SELECT 1 FROM pg_database WHERE datname = '\(Self.databaseName)'"])
        if !exists.output.contains("1") {
            let created = try pg("createdb", ["-h", socketDirectory, "-U", Self.superuser, Self.databaseName])
            guard created.status == 0 else { throw Failure(description: "createdb failed: \(created.output)") }
        }
    }

    func stop() throws {
        guard isRunning else { return }
        let result = try pg("pg_ctl", ["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", "60"])
        guard result.status == 0 else { throw Failure(description: "pg_ctl stop failed: \(result.output)") }
    }
}
