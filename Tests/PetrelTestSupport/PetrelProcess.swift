import Foundation
import MailStore

/// Runs the built `petrel` binary as an admin would, capturing what it prints and its exit code.
public struct PetrelProcess {
    public struct Result: Sendable, CustomStringConvertible {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    /// `PETREL_BIN` (set by `make test`), else the debug build beside the sources.
    public static var binary: String {
        if let bin = ProcessInfo.processInfo.environment["PETREL_BIN"] { return bin }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../.build/debug/petrel").standardized.path
    }

    /// The URL as text for `--database-url` / `PETREL_DATABASE_URL` (the test server trusts loopback).
    public static func urlString(_ url: DatabaseURL) -> String {
        guard case .tcp(let host, let port) = url.endpoint else { return "\(url)" }
        return "postgres://\(url.username)@\(host):\(port)/\(url.database)"
    }

    /// Runs `petrel ARGS`. The environment is minimal and explicit: only PATH, HOME, what is
    /// given, and a PETREL_HOME that holds no cluster (so nothing falls back to an embedded one).
    public static func run(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                           directory: String? = nil) throws -> Result {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("petrel-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let out = work.appendingPathComponent("stdout"), err = work.appendingPathComponent("stderr"), input = work.appendingPathComponent("stdin")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        FileManager.default.createFile(atPath: input.path, contents: Data((stdin ?? "").utf8))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                   "HOME": work.path, "PETREL_HOME": work.appendingPathComponent("home").path]
        env.merge(environment) { $1 }
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? work.path)
        process.standardInput = try FileHandle(forReadingFrom: input)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
