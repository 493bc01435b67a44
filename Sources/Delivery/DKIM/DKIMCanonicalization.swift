import Crypto

/// The "relaxed" canonicalizations of RFC 6376 §3.4.2 (header) and §3.4.4 (body), the only
/// ones Petrel signs with (`c=relaxed/relaxed`: it survives the whitespace changes and
/// refolding that relays make).
enum DKIMCanonicalization {
    static let sp: UInt8 = 0x20, tab: UInt8 = 0x09, cr: UInt8 = 0x0D, lf: UInt8 = 0x0A, colon: UInt8 = 0x3A

    static func isWSP(_ byte: UInt8) -> Bool { byte == sp || byte == tab }

    /// RFC 6376 §3.4.2: lowercase the name; unfold (a CRLF followed by WSP is dropped); every run
    /// of WSP becomes one SP; WSP at the end of the value and around the colon goes. The result
    /// ends with CRLF, as each signed header field is hashed.
    static func relaxedHeader(_ field: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(field.count + 2)
        guard let colonIndex = field.firstIndex(of: colon) else { return out }
        // The name: lowercased, without the WSP that may stand before the colon.
        var name = field[field.startIndex..<colonIndex]
        while let last = name.last, isWSP(last) { name = name.dropLast() }
        for byte in name { out.append(byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte) }
        out.append(colon)
        // The value: unfolded, WSP runs compressed, leading and trailing WSP gone.
        var pendingSpace = false
        var valueStarted = false   // WSP before the value's first character goes
        var index = field.index(after: colonIndex)
        while index < field.endIndex {
            let byte = field[index]
            if byte == cr, field.index(after: index) < field.endIndex, field[field.index(after: index)] == lf {
                index = field.index(index, offsetBy: 2)   // unfolding: the CRLF of a continuation line
                continue
            }
            if isWSP(byte) {
                pendingSpace = true
            } else {
                if pendingSpace && valueStarted { out.append(sp) }
                pendingSpace = false
                valueStarted = true
                out.append(byte)
            }
            index = field.index(after: index)
        }
        out.append(cr)
        out.append(lf)
        return out
    }

    /// RFC 6376 §3.4.4 applied to `body` as it streams into SHA-256: WSP at the end of a line
    /// goes, other WSP runs become one SP, empty lines at the end go, and a non-empty body
    /// ends with CRLF (an empty one stays empty). Lines end with CRLF (Petrel stores messages
    /// so); a bare LF or CR is content.
    static func relaxedBodyHash(_ body: ArraySlice<UInt8>) -> SHA256.Digest {
        var hasher = SHA256()
        var line: [UInt8] = []
        line.reserveCapacity(1000)
        var emptyLines = 0
        var start = body.startIndex
        func emit(_ raw: ArraySlice<UInt8>) {
            line.removeAll(keepingCapacity: true)
            var pendingSpace = false
            for byte in raw {
                if isWSP(byte) {
                    pendingSpace = true
                } else {
                    if pendingSpace { line.append(sp) }
                    pendingSpace = false
                    line.append(byte)
                }
            }
            // Trailing WSP is simply never written (pendingSpace dropped).
            if line.isEmpty {
                emptyLines += 1
                return
            }
            for _ in 0..<emptyLines { hasher.update(data: crlf) }
            emptyLines = 0
            hasher.update(data: line)
            hasher.update(data: crlf)
        }
        while start < body.endIndex {
            var end = start
            while end < body.endIndex, !(body[end] == cr && body.index(after: end) < body.endIndex
                                        && body[body.index(after: end)] == lf) {
                end = body.index(after: end)
            }
            emit(body[start..<end])
            start = end < body.endIndex ? body.index(end, offsetBy: 2) : end
        }
        return hasher.finalize()
    }

    static let crlf: [UInt8] = [cr, lf]
}
