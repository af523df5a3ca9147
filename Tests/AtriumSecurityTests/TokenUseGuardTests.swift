import AtriumTransport
import Testing
@testable import AtriumSecurity

@Suite struct TokenUseGuardTests {
    static func id(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 16) }

    @Test func secondAddressIsRejectedSameAddressAdmitted() {
        var guardian = TokenUseGuard()
        do { let ok = guardian.admit(tokenId: Self.id(1), address: "1.2.3.4:5000", expiresAt: 160, now: 100); #expect(ok) }
        do { let ok = guardian.admit(tokenId: Self.id(1), address: "1.2.3.4:5000", expiresAt: 160, now: 101); #expect(ok) }
        do { let ok = !guardian.admit(tokenId: Self.id(1), address: "1.2.3.4:5001", expiresAt: 160, now: 102); #expect(ok) }
        do { let ok = !guardian.admit(tokenId: Self.id(1), address: "9.9.9.9:5000", expiresAt: 160, now: 159); #expect(ok) }
        do { let ok = guardian.admit(tokenId: Self.id(2), address: "9.9.9.9:5000", expiresAt: 160, now: 102); #expect(ok) }
        // Numeric and TransportAddress forms name the same address as the text.
        do { let ok = guardian.admit(tokenId: Self.id(1), ipv4: 0x0102_0304, port: 5000, expiresAt: 160, now: 103); #expect(ok) }
        do { let ok = guardian.admit(tokenId: Self.id(1), address: TransportAddress(host: "1.2.3.4", port: 5000), expiresAt: 160, now: 103); #expect(ok) }
        do { let ok = !guardian.admit(tokenId: Self.id(1), ipv4: 0x0102_0304, port: 5001, expiresAt: 160, now: 103); #expect(ok) }
    }

    @Test func expiredTokensAndBadIdsAreRefusedAndForgotten() {
        var guardian = TokenUseGuard()
        do { let ok = !guardian.admit(tokenId: Self.id(1), address: "a:1", expiresAt: 100, now: 100); #expect(ok) }
        do { let ok = !guardian.admit(tokenId: [1, 2, 3], address: "a:1", expiresAt: 200, now: 100); #expect(ok) }
        do { let ok = guardian.admit(tokenId: Self.id(1), address: "a:1", expiresAt: 110, now: 100); #expect(ok) }
        #expect(guardian.count == 1)
        guardian.prune(now: 110)
        #expect(guardian.count == 0)
    }

    @Test func boundedMemoryFailsClosedWhenFull() {
        var guardian = TokenUseGuard(capacity: 3)
        for n in UInt8(1)...3 { do { let ok = guardian.admit(tokenId: Self.id(n), address: "a:1", expiresAt: 100 + UInt64(n), now: 100); #expect(ok) } }
        // Full of live tokens: a new token is refused (never silently forgetting one that is live).
        do { let ok = !guardian.admit(tokenId: Self.id(4), address: "a:1", expiresAt: 200, now: 100); #expect(ok) }
        #expect(guardian.rejectedWhileFull == 1)
        // Known tokens still work while full.
        do { let ok = guardian.admit(tokenId: Self.id(2), address: "a:1", expiresAt: 102, now: 100); #expect(ok) }
        do { let ok = !guardian.admit(tokenId: Self.id(2), address: "b:1", expiresAt: 102, now: 100); #expect(ok) }
        // Once one expired there is room again.
        do { let ok = guardian.admit(tokenId: Self.id(4), address: "a:1", expiresAt: 200, now: 101); #expect(ok) }
        #expect(guardian.count == 3)
    }

    @Test func periodicPruningKeepsOnlyLiveTokens() {
        var guardian = TokenUseGuard()
        for n in UInt8(0)..<200 { _ = guardian.admit(tokenId: Self.id(n), address: "a:1", expiresAt: 160, now: 100) }
        #expect(guardian.count == 200)
        _ = guardian.admit(tokenId: Self.id(250), address: "a:1", expiresAt: 300, now: 200)
        #expect(guardian.count == 1)
    }
}
