import Foundation

/// Queue ids: short, unique across nodes, sortable by time (Postfix "long queue ids" in
/// spirit): 10 base-32 characters of microseconds since 2020, then 6 random ones.
public enum QueueID {
    static let alphabet = Array("0123456789BCDFGHJKLMNPQRSTVWXYZb")

    public static func make(now: Date = Date()) -> String {
        var micros = UInt64(max(0, (now.timeIntervalSince1970 - 1_577_836_800) * 1_000_000))
        var time: [Character] = []
        for _ in 0..<10 {
            time.append(alphabet[Int(micros & 31)])
            micros >>= 5
        }
        var generator = SystemRandomNumberGenerator()
        let random = (0..<6).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] }
        return String(time.reversed()) + String(random)
    }
}
