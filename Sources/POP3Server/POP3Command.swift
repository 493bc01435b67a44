/// One POP3 command (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH).
public enum POP3Command: Equatable, Sendable {
    case user(String)
    case pass(String)
    /// AUTH with no mechanism lists the mechanisms (RFC 5034 §4 allows clients to ask).
    case auth(mechanism: String?, initialResponse: String?)
    case stls
    case capa
    case stat
    case list(Int?)
    case uidl(Int?)
    case retr(Int)
    case top(Int, lines: Int)
    case dele(Int)
    case noop
    case rset
    case quit
}

public struct POP3SyntaxError: Error, Equatable, Sendable {
    public var message: String
}

/// Parses one command line (without its CRLF). Keywords are case-insensitive; arguments are
/// separated by single spaces (RFC 1939 §3); message numbers are positive decimals.
public enum POP3CommandParser {
    /// RFC 2449 §4: a command line is at most 255 octets with its CRLF.
    public static let maximumLine = 255

    public static func parse(_ bytes: [UInt8]) throws(POP3SyntaxError) -> POP3Command {
        guard let line = String(validating: bytes, as: UTF8.self) else { throw POP3SyntaxError(message: "Invalid characters") }
        guard !line.contains(where: { $0 == "\0" || $0 == "\r" || $0 == "\n" }) else {
            throw POP3SyntaxError(message: "Invalid characters")
        }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let keyword = parts[0].uppercased()
        let arguments = Array(parts.dropFirst())
        func none() throws(POP3SyntaxError) {
            guard arguments.isEmpty else { throw POP3SyntaxError(message: "\(keyword) takes no argument") }
        }
        func number(_ text: String) throws(POP3SyntaxError) -> Int {
            guard !text.isEmpty, text.count <= 9, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber), let n = Int(text), n >= 1 else {
                throw POP3SyntaxError(message: "Invalid message number")
            }
            return n
        }
        func optionalNumber() throws(POP3SyntaxError) -> Int? {
            guard arguments.count <= 1 else { throw POP3SyntaxError(message: "Too many arguments") }
            return try arguments.first.map { text throws(POP3SyntaxError) in try number(text) }
        }
        switch keyword {
        case "USER":
            // The rest of the line: names may not hold spaces anyway (RFC 1939 §7).
            guard arguments.count == 1, !arguments[0].isEmpty else { throw POP3SyntaxError(message: "USER needs a name") }
            return .user(arguments[0])
        case "PASS":
            // RFC 1939 §7: the password is the rest of the line, spaces included.
            guard line.count > 5 else { throw POP3SyntaxError(message: "PASS needs a password") }
            return .pass(String(line.dropFirst(5)))
        case "AUTH":
            guard arguments.count <= 2 else { throw POP3SyntaxError(message: "Too many arguments") }
            return .auth(mechanism: arguments.first?.uppercased(), initialResponse: arguments.count == 2 ? arguments[1] : nil)
        case "STLS": try none(); return .stls
        case "CAPA": try none(); return .capa
        case "STAT": try none(); return .stat
        case "NOOP": try none(); return .noop
        case "RSET": try none(); return .rset
        case "QUIT": try none(); return .quit
        case "LIST": return .list(try optionalNumber())
        case "UIDL": return .uidl(try optionalNumber())
        case "RETR", "DELE":
            guard arguments.count == 1 else { throw POP3SyntaxError(message: "\(keyword) needs a message number") }
            let n = try number(arguments[0])
            return keyword == "RETR" ? .retr(n) : .dele(n)
        case "TOP":
            guard arguments.count == 2 else { throw POP3SyntaxError(message: "TOP needs a message number and a line count") }
            let n = try number(arguments[0])
            // The line count may be 0; clients send huge counts to mean "everything".
            guard !arguments[1].isEmpty, arguments[1].allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw POP3SyntaxError(message: "Invalid line count")
            }
            return .top(n, lines: Int(arguments[1].prefix(18)).map { arguments[1].count > 18 ? Int.max : $0 } ?? Int.max)
        default:
            throw POP3SyntaxError(message: "Unknown command")
        }
    }
}
