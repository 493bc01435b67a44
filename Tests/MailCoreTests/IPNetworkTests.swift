import MailCore
import Testing

struct IPNetworkTests {
    @Test func containment() throws {
        let v4 = try IPNetwork("10.1.0.0/16")
        #expect(v4.contains("10.1.200.3") && !v4.contains("10.2.0.1") && v4.contains("::ffff:10.1.0.9"))
        #expect(try IPNetwork("192.0.2.7").contains("192.0.2.7") && !(try IPNetwork("192.0.2.7").contains("192.0.2.8")))
        #expect(try IPNetwork("0.0.0.0/0").contains("203.0.113.1"))
        let v6 = try IPNetwork("2001:db8::/32")
        #expect(v6.contains("2001:db8:ffff::1") && !v6.contains("2001:db9::1") && !v6.contains("10.0.0.1"))
        #expect(try IPNetwork("::1").contains("::1") && !(try IPNetwork("::1").contains("::2")))
        #expect(try IPNetwork("10.1.2.3/8").description == "10.0.0.0/8")
    }

    @Test(arguments: ["", "10.0.0.0/33", "10.0.0/8", "256.0.0.1", "1.2.3.4/-1", "::1::2", "2001:db8::/129", "a.b.c.d", "1:2:3:4:5:6:7:8:9"])
    func invalid(_ text: String) {
        #expect(throws: IPNetwork.Invalid.self) { try IPNetwork(text) }
    }
}
