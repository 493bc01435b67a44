/// Building search filters from a template without letting a login name change their meaning.
public enum LDAPFilter {
    /// RFC 4515 §3: in an assertion value, `*`, `(`, `)`, `\` and NUL are written as `\2a`,
    /// `\28`, `\29`, `\5c` and `\00`. A login of `*` or `x)(uid=*` is then a literal value that
    /// matches nothing, never a wildcard or a second condition.
    public static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "*": out += "\\2a"
            case "(": out += "\\28"
            case ")": out += "\\29"
            case "\\": out += "\\5c"
            case "\u{0}": out += "\\00"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Fills a template: `%s` is the whole address, `%u` its local part, `%d` its domain (as
    /// Postfix's ldap_table and Dovecot's user_filter spell them), `%%` a percent sign. Every
    /// value is escaped.
    public static func expand(_ template: String, address: String, localPart: String, domain: String) -> String {
        var out = ""
        var iterator = template.makeIterator()
        while let c = iterator.next() {
            guard c == "%" else { out.append(c); continue }
            switch iterator.next() {
            case "s": out += escape(address)
            case "u": out += escape(localPart)
            case "d": out += escape(domain)
            case "%": out += "%"
            case let other?: out.append("%"); out.append(other)
            case nil: out.append("%")
            }
        }
        return out
    }

    /// Whether a template is usable: parenthesised, balanced, and naming the user somewhere.
    public static func isValidTemplate(_ template: String) -> Bool {
        guard template.hasPrefix("("), template.hasSuffix(")") else { return false }
        var depth = 0
        var escaped = false
        for c in template {
            if escaped { escaped = false; continue }
            switch c {
            case "\\": escaped = true
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth < 0 { return false }
            default: break
            }
        }
        return depth == 0 && (template.contains("%s") || template.contains("%u"))
    }
}
