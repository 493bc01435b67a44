/// Reads a DATA body (RFC 5321 §4.1.1.4, §4.5.2) as it streams in: removes dot-stuffing and
/// finds the end, `<CRLF>.<CRLF>`, and nothing else. A line ending in a bare LF is kept as
/// content (its line end is made CR LF when the message is stored), but a `.` line only ends
/// the message after a real CR LF: `<LF>.<LF>` and `<LF>.<CRLF>` are content, so that a
/// message cannot hide a second one from a server that reads line ends differently
/// ("SMTP smuggling", CVE-2023-51764; Postfix `smtpd_forbid_bare_newline`).
/// Keeps at most `limit` bytes; past that it only scans for the end.
public struct DataDecoder {
    private enum State {
        /// At the start of a line; `afterCRLF` says whether the previous line ended in CR LF.
        case lineStart(afterCRLF: Bool)
        /// Just read a `.` at the start of a line.
        case dot(afterCRLF: Bool)
        /// Read `.` CR at the start of a line.
        case dotCR(afterCRLF: Bool)
        case middle
        case cr
    }

    private var state = State.lineStart(afterCRLF: true)
    public let limit: Int
    public private(set) var body: [UInt8] = []
    /// More than `limit` bytes were sent; `body` holds only the first `limit`.
    public private(set) var overflowed = false
    /// Lines ended with a bare LF (for logs).
    private(set) var bareLineFeeds = 0

    public init(limit: Int) {
        self.limit = limit
        body.reserveCapacity(min(limit, 64 * 1024))
    }

    private mutating func emit(_ byte: UInt8) {
        if body.count < limit { body.append(byte) } else { overflowed = true }
    }

    /// Emits a run of bytes; returns its length.
    private mutating func emit(_ run: some Collection<UInt8>) -> Int {
        let count = run.count
        let room = limit - body.count
        if count <= room {
            body.append(contentsOf: run)
        } else {
            body.append(contentsOf: run.prefix(max(0, room)))
            overflowed = true
        }
        return count
    }

    /// Consumes bytes; returns how many belong to the body (through the end marker) and
    /// whether the end was found. Bytes after the marker are the next command's.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> (consumed: Int, finished: Bool) {
        var consumed = 0
        var index = bytes.startIndex
        while index != bytes.endIndex {
            if case .middle = state {
                // The rest of a line up to its CR or LF, copied at once.
                var end = index
                while end != bytes.endIndex, bytes[end] != UInt8(ascii: "\r"), bytes[end] != UInt8(ascii: "\n") {
                    bytes.formIndex(after: &end)
                }
                if end != index {
                    consumed += emit(bytes[index..<end])
                    index = end
                    continue
                }
            }
            let byte = bytes[index]
            bytes.formIndex(after: &index)
            consumed += 1
            switch state {
            case .lineStart(let afterCRLF):
                if byte == UInt8(ascii: ".") { state = .dot(afterCRLF: afterCRLF) } else { content(byte) }
            case .dot(let afterCRLF):
                // The leading dot is dropped either way (dot-unstuffing).
                if byte == UInt8(ascii: "\r") {
                    state = .dotCR(afterCRLF: afterCRLF)
                } else {
                    content(byte)
                }
            case .dotCR(let afterCRLF):
                if byte == UInt8(ascii: "\n") {
                    if afterCRLF { return (consumed, true) }
                    // ".\r\n" after a bare LF: content, a line that was "." (unstuffed: empty).
                    emit(UInt8(ascii: "\r")); emit(UInt8(ascii: "\n"))
                    state = .lineStart(afterCRLF: true)
                } else {
                    emit(UInt8(ascii: "\r"))
                    state = .middle
                    content(byte)
                }
            case .middle:
                content(byte)
            case .cr:
                emit(byte)
                if byte == UInt8(ascii: "\n") {
                    state = .lineStart(afterCRLF: true)
                } else if byte != UInt8(ascii: "\r") {
                    state = .middle
                }
            }
        }
        return (consumed, false)
    }

    /// A byte in the middle of a line.
    private mutating func content(_ byte: UInt8) {
        emit(byte)
        switch byte {
        case UInt8(ascii: "\r"): state = .cr
        case UInt8(ascii: "\n"):
            bareLineFeeds += 1
            state = .lineStart(afterCRLF: false)
        default: state = .middle
        }
    }
}
