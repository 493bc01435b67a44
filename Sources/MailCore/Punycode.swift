/// Punycode (RFC 3492), the encoding IDNA uses to carry Unicode labels as ASCII ("xn--" labels).
///
/// Pure and bounded: labels longer than `maximumLabelInput` scalars are refused before any work,
/// so hostile input cannot make the quadratic-in-length core loop expensive.
public enum Punycode {
    // RFC 3492 §5: parameter values for Punycode.
    static let base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700
    static let initialBias = 72, initialN = 128

    /// No DNS label exceeds 63 octets, so no sane Unicode label needs more scalars than that.
    public static let maximumLabelInput = 63

    /// Encodes the Unicode scalars of one label (without the "xn--" prefix). Returns nil on overflow
    /// or over-long input.
    public static func encode(_ input: [Unicode.Scalar]) -> String? {
        guard input.count <= maximumLabelInput else { return nil }
        var output: [UInt8] = input.filter { $0.isASCII }.map { UInt8($0.value) }
        let basicCount = output.count
        var handled = basicCount
        if basicCount > 0 { output.append(UInt8(ascii: "-")) }
        var n = initialN, delta = 0, bias = initialBias
        let codePoints = input.map { Int($0.value) }
        while handled < codePoints.count {
            // RFC 3492 §6.3: the next code point to insert is the smallest one >= n.
            guard let m = codePoints.filter({ $0 >= n }).min() else { return nil }
            let (step, overflow) = (m - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow else { return nil }
            delta += step
            n = m
            for c in codePoints {
                if c < n { delta += 1 }
                if c == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta: delta, numPoints: handled + 1, firstTime: handled == basicCount)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes a label body (without "xn--"). Returns nil for invalid input.
    public static func decode(_ input: String) -> [Unicode.Scalar]? {
        let bytes = Array(input.utf8)
        guard bytes.count <= 255, bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        var output: [Int] = []
        var position = 0
        if let lastDash = bytes.lastIndex(of: UInt8(ascii: "-")) {
            output = bytes[..<lastDash].map { Int($0) }
            position = lastDash + 1
        }
        var n = initialN, i = 0, bias = initialBias
        while position < bytes.count {
            let oldI = i
            var w = 1
            var k = base
            while true {
                guard position < bytes.count, let d = digitValue(bytes[position]) else { return nil }
                position += 1
                let (dw, o1) = d.multipliedReportingOverflow(by: w)
                guard !o1 else { return nil }
                i += dw
                let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                if d < t { break }
                let (nw, o2) = w.multipliedReportingOverflow(by: base - t)
                guard !o2 else { return nil }
                w = nw
                k += base
                guard i < Int(Int32.max) else { return nil }
            }
            bias = adapt(delta: i - oldI, numPoints: output.count + 1, firstTime: oldI == 0)
            n += i / (output.count + 1)
            i %= output.count + 1
            guard n <= 0x10FFFF, output.count < maximumLabelInput * 4 else { return nil }
            output.insert(n, at: i)
            i += 1
        }
        let scalars = output.compactMap { Unicode.Scalar(UInt32($0)) }
        return scalars.count == output.count ? scalars : nil
    }

    static func adapt(delta: Int, numPoints: Int, firstTime: Bool) -> Int {
        var delta = firstTime ? delta / damp : delta / 2
        delta += delta / numPoints
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }

    static func digit(_ d: Int) -> UInt8 {
        d < 26 ? UInt8(d) + UInt8(ascii: "a") : UInt8(d - 26) + UInt8(ascii: "0")
    }

    static func digitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return Int(byte - UInt8(ascii: "a"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return Int(byte - UInt8(ascii: "A"))
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0")) + 26
        default: return nil
        }
    }
}
