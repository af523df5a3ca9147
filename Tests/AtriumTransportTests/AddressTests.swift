import Testing
@testable import AtriumTransport

@Suite struct AddressTests {
    @Test func parsesIPv4HostnameAndBracketedIPv6() {
        #expect(TransportAddress.parse("127.0.0.1:7777") == TransportAddress(host: "127.0.0.1", port: 7777))
        #expect(TransportAddress.parse("localhost:7777") == TransportAddress(host: "localhost", port: 7777))
        #expect(TransportAddress.parse("[::1]:7777") == TransportAddress(host: "::1", port: 7777))
        #expect(TransportAddress.parse("0.0.0.0:0") == TransportAddress(host: "0.0.0.0", port: 0))
        #expect(TransportAddress.parse("[fe80::1%eth0]:65535") == TransportAddress(host: "fe80::1%eth0", port: 65535))
    }

    @Test(arguments: ["", "127.0.0.1", "127.0.0.1:", ":7777", "::1:7777", "[::1]", "[::1]7777", "[::1:7777",
                      "host:65536", "host:-1", "host:+1", "host:77a", "[127.0.0.1]:80", "a b:1", "host:000001"])
    func rejectsMalformed(_ text: String) {
        #expect(TransportAddress.parse(text) == nil)
    }

    @Test func descriptionRoundTrips() {
        for text in ["127.0.0.1:7777", "localhost:1", "[::1]:7777"] {
            #expect(TransportAddress.parse(text)?.description == text)
        }
    }

    @Test func ipv6IsRejectedClearlyBecauseENetIsIPv4Only() throws {
        do {
            _ = try TransportHost(bindTo: TransportAddress(host: "::1", port: 0), peerLimit: 1, channelLimit: 1)
            Issue.record("binding to ::1 should throw")
        } catch {
            #expect(error.message.contains("IPv6"))
        }
        let client = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 1)
        #expect(throws: TransportError.self) { _ = try client.connect(to: .parse("[::1]:7777")!, channelCount: 1) }
    }

    @Test func rejectsBadLimitsAndUnresolvableHosts() throws {
        #expect(throws: TransportError.self) { _ = try TransportHost(bindTo: nil, peerLimit: 0, channelLimit: 1) }
        #expect(throws: TransportError.self) { _ = try TransportHost(bindTo: nil, peerLimit: 5000, channelLimit: 1) }
        #expect(throws: TransportError.self) { _ = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 256) }
        let client = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 1)
        #expect(throws: TransportError.self) {
            _ = try client.connect(to: TransportAddress(host: "no-such-host.invalid", port: 1), channelCount: 1)
        }
        #expect(throws: TransportError.self) { _ = try client.connect(to: TransportAddress(host: "127.0.0.1", port: 1), channelCount: 0) }
    }

    @Test func localhostResolvesAndEphemeralPortIsReadBack() throws {
        let server = try TransportHost(bindTo: TransportAddress(host: "localhost", port: 0), peerLimit: 1, channelLimit: 1)
        #expect(server.localPort != 0)
        let client = try TransportHost(bindTo: nil, peerLimit: 1, channelLimit: 1)
        #expect(client.localPort == 0)  // unbound until it first sends
    }
}
