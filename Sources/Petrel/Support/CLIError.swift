import ArgumentParser
import Foundation

/// An error the command line reports as one line on standard error, then exits 1.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command body, printing any error as `petrel: error: …` and exiting non-zero.
/// ArgumentParser's own usage errors keep their exit code (64).
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        FileHandle.standardError.write(Data("petrel: error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}
