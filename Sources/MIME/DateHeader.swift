/// The calendar day of an RFC 5322 §3.3 date (`[Mon, ] 7 Feb 1994 21:52:25 -0800`), as IMAP's
/// SENTBEFORE / SENTON / SENTSINCE need it: "disregarding time and timezone" (RFC 3501 §6.4.4).
/// Lenient (obsolete forms, comments, missing weekday, two-digit years per RFC 5322 §4.3).
public enum DateHeader {
    public static func day(_ value: [UInt8]) -> (year: Int, month: Int, day: Int)? {
        let text = String(decoding: value.prefix(256), as: UTF8.self)
        var words: [Substring] = []
        var depth = 0
        var current = ""
        for char in text {
            if char == "(" { depth += 1; continue }
            if char == ")" { depth = max(0, depth - 1); continue }
            if depth > 0 { continue }
            if char == " " || char == "\t" || char == "," || char == "\r" || char == "\n" {
                if !current.isEmpty { words.append(Substring(current)); current = "" }
            } else {
                current.append(char)
            }
        }
        if !current.isEmpty { words.append(Substring(current)) }
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        for index in words.indices where index + 2 < words.count {
            guard let day = Int(words[index]), (1...31).contains(day),
                  let month = months.firstIndex(of: String(words[index + 1].prefix(3)).lowercased()),
                  var year = Int(words[index + 2]) else { continue }
            if words[index + 2].count <= 2 { year += year < 50 ? 2000 : 1900 } else if words[index + 2].count == 3 { year += 1900 }
            guard (1...9999).contains(year) else { return nil }
            return (year, month + 1, day)
        }
        return nil
    }
}
