#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Reads a password without echoing it: from standard input when asked (`--password-stdin`,
/// first line, for scripts), or from the terminal with echo turned off.
enum PasswordInput {
    static let maximumBytes = 1024

    static func read(fromStdin: Bool, confirm: Bool, prompt: String = "Password: ") throws -> String {
        let password: String
        if fromStdin {
            guard let line = readLine(strippingNewline: true) else { throw CLIError("no password on standard input") }
            password = line
        } else {
            guard isatty(STDIN_FILENO) != 0 else {
                throw CLIError("standard input is not a terminal: pipe the password with --password-stdin")
            }
            password = try readHidden(prompt)
            if confirm {
                let again = try readHidden("Again: ")
                guard again == password else { throw CLIError("the passwords do not match") }
            }
        }
        guard !password.isEmpty else { throw CLIError("the password is empty") }
        guard password.utf8.count <= maximumBytes else { throw CLIError("the password is longer than \(maximumBytes) bytes") }
        return password
    }

    private static func readHidden(_ prompt: String) throws -> String {
        FileHandle.standardError.write(Data(prompt.utf8))
        var old = termios()
        tcgetattr(STDIN_FILENO, &old)
        var silent = old
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        guard let line = readLine(strippingNewline: true) else { throw CLIError("no password given") }
        return line
    }
}
