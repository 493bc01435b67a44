#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Runs an external program to completion with posix_spawn + waitpid.
///
/// Output goes to a file, never a pipe: `pg_ctl start` leaves a daemonised postmaster behind that
/// inherits the child's descriptors, and a pipe would never reach end-of-file (Foundation's
/// `Process.waitUntilExit()` hangs on exactly that).
struct Subprocess {
    struct Result {
        var status: Int32
        var output: String
    }

    struct SpawnFailed: Error, CustomStringConvertible {
        var program: String
        var errno: Int32
        var description: String { "cannot run \(program): \(String(cString: strerror(errno)))" }
    }

    /// Runs `arguments[0]` (searched in PATH when it has no slash) and returns its exit status
    /// and combined output. `outputFile` keeps the output there instead of a temporary file.
    static func run(_ arguments: [String], outputFile: String? = nil, environment: [String: String]? = nil) throws -> Result {
        closeInheritedDescriptorsOnExec()
        let capture = outputFile ?? NSTemporaryDirectory() + "petrel-subprocess-\(getpid())-\(UInt32.random(in: 0 ... .max)).log"
        defer { if outputFile == nil { unlink(capture) } }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, capture, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        let status = posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
        guard status == 0 else { throw SpawnFailed(program: arguments[0], errno: status) }
        var wait: Int32 = 0
        while waitpid(pid, &wait, 0) < 0 {
            if errno != EINTR { throw SpawnFailed(program: arguments[0], errno: errno) }
        }
        // WIFEXITED / WEXITSTATUS are macros Swift does not import.
        let exitStatus: Int32 = (wait & 0x7f) == 0 ? (wait >> 8) & 0xff : 128 + (wait & 0x7f)
        let output = (try? String(contentsOfFile: capture, encoding: .utf8)) ?? ""
        return Result(status: exitStatus, output: output)
    }

    /// Marks every descriptor above stderr close-on-exec, so that nothing this process inherited
    /// (a pipe its own parent watches, say) leaks into a daemon we start: a postmaster holding
    /// such a pipe keeps whoever watches it waiting forever. NIO's own descriptors are already
    /// close-on-exec; glibc's posix_spawn_file_actions_addclosefrom_np is not visible to Swift.
    static func closeInheritedDescriptorsOnExec() {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for entry in entries {
            guard let fd = Int32(entry), fd > 2 else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    /// Finds an executable in PATH and in the extra directories given.
    static func find(_ name: String, extraDirectories: [String] = []) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":").map(String.init) + extraDirectories {
            let candidate = dir + "/" + name
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
