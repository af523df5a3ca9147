import AtriumSecurity
import Testing

@Suite struct AddressPseudonymTests {
    @Test func sameAddressSameNameUnderOneKey() {
        let pseudonym = AddressPseudonym(key: Array(repeating: 7, count: 32))
        let a = pseudonym.name(ipv4: 0x7F00_0001, port: 7777)
        #expect(a == pseudonym.name(ipv4: 0x7F00_0001, port: 7777))
        #expect(a.hasPrefix("addr-") && a.count == 17)
        #expect(!a.contains("127"))
    }

    @Test func differentAddressesOrKeysGiveDifferentNames() {
        let one = AddressPseudonym(key: Array(repeating: 7, count: 32))
        let two = AddressPseudonym(key: Array(repeating: 8, count: 32))
        #expect(one.name(ipv4: 0x7F00_0001, port: 7777) != one.name(ipv4: 0x7F00_0001, port: 7778))
        #expect(one.name(ipv4: 0x7F00_0001, port: 7777) != two.name(ipv4: 0x7F00_0001, port: 7777))
        #expect(one.name("127.0.0.1:7777") == one.name("127.0.0.1:7777"))
    }
}
