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
        // 30 random bits, 5 per character (one call to the system's generator).
        var bits = UInt64.random(in: 0..<(1 << 30))
        var random: [Character] = []
        for _ in 0..<6 {
            random.append(alphabet[Int(bits & 31)])
            bits >>= 5
        }
        return String(time.reversed()) + String(random)
    }
}
