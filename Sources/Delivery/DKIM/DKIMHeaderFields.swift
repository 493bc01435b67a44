/// A message split as DKIM sees it: its header fields in order (each with its continuation
/// lines, without the final CRLF) and the body after the empty line. Linear in the message and
/// allocation-light: fields are slices of the message.
struct DKIMHeaderFields {
    struct Field {
        /// Lowercased, without trailing WSP.
        let name: String
        let raw: ArraySlice<UInt8>
    }

    let fields: [Field]
    let body: ArraySlice<UInt8>

    init(_ message: [UInt8]) {
        var fields: [Field] = []
        var index = 0
        var fieldStart = 0
        var bodyStart = message.count
        let count = message.count
        if count >= 2, message[0] == 0x0D, message[1] == 0x0A {
            self.fields = []
            self.body = message[2...]
            return
        }
        while index < count {
            guard message[index] == 0x0D, index + 1 < count, message[index + 1] == 0x0A else {
                index += 1
                continue
            }
            let next = index + 2
            if next < count, DKIMCanonicalization.isWSP(message[next]) {
                index = next   // a continuation line: same field
                continue
            }
            Self.append(message[fieldStart..<index], to: &fields)
            fieldStart = next
            if next + 1 < count, message[next] == 0x0D, message[next + 1] == 0x0A {
                bodyStart = next + 2
                break
            }
            index = next
        }
        if bodyStart == count, fieldStart < count, index >= count {
            // No empty line: the whole message is header (an unterminated last field included).
            Self.append(message[fieldStart..<count], to: &fields)
        }
        self.fields = fields
        self.body = message[bodyStart...]
    }

    private static func append(_ raw: ArraySlice<UInt8>, to fields: inout [Field]) {
        guard let colon = raw.firstIndex(of: DKIMCanonicalization.colon) else { return }   // not a field
        var name = raw[raw.startIndex..<colon]
        while let last = name.last, DKIMCanonicalization.isWSP(last) { name = name.dropLast() }
        guard !name.isEmpty else { return }
        fields.append(Field(name: String(decoding: name, as: UTF8.self).lowercased(), raw: raw))
    }

    /// The fields `names` select, as RFC 6376 §5.4.2 has a verifier pick them: for each name in
    /// order, the last instance not yet used; a name with no instance left selects nothing
    /// (which is how listing a name once more than it occurs "oversigns" it). One pass over
    /// the fields, then one step per name.
    func selected(_ names: [String]) -> [ArraySlice<UInt8>] {
        var instances: [String: [ArraySlice<UInt8>]] = [:]   // per name, last first
        let wanted = Set(names)
        for field in fields.reversed() where wanted.contains(field.name) { instances[field.name, default: []].append(field.raw) }
        var used: [String: Int] = [:]
        var out: [ArraySlice<UInt8>] = []
        for name in names {
            let index = used[name, default: 0]
            used[name] = index + 1
            if let list = instances[name], index < list.count { out.append(list[index]) }
        }
        return out
    }

    /// How many instances of `name` there are.
    func count(_ name: String) -> Int { fields.reduce(0) { $0 + ($1.name == name ? 1 : 0) } }
}
