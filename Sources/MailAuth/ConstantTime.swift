/// Compares two byte sequences in time that depends only on their lengths, never on where they
/// first differ. Lengths are not secret (a hash's length follows from its scheme).
@inline(never)
func constantTimeEquals<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool where A.Element == UInt8, B.Element == UInt8 {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for (x, y) in zip(a, b) { difference |= x ^ y }
    return difference == 0
}
