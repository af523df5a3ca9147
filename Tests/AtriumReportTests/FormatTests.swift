import Testing
@testable import AtriumReport

@Suite struct FormatTests {
    @Test func fixedRounds() {
        #expect(Fmt.fixed(1.25, 1) == "1.3")
        #expect(Fmt.fixed(-1.25, 1) == "-1.3")
        #expect(Fmt.fixed(0.04, 1) == "0.0")
        #expect(Fmt.fixed(-0.04, 1) == "0.0")
        #expect(Fmt.fixed(0.005, 3) == "0.005")
        #expect(Fmt.fixed(1234, 0) == "1234")
        #expect(Fmt.fixed(.nan, 2) == Fmt.missing)
        #expect(Fmt.fixed(.infinity, 2) == Fmt.missing)
    }

    @Test func compactTrims() {
        #expect(Fmt.compact(91.2) == "91.2")
        #expect(Fmt.compact(1000) == "1000")
        #expect(Fmt.compact(1.0 / 3.0) == "0.333")
        #expect(Fmt.compact(-0.0001) == "0")
    }

    @Test func figures() {
        #expect(Fmt.figure(nil) == Fmt.missing)
        #expect(Fmt.figure(0) == "0.00")
        #expect(Fmt.figure(0.412) == "0.412")
        #expect(Fmt.figure(12.345) == "12.35")
        #expect(Fmt.figure(412.54) == "412.5")
        #expect(Fmt.figure(30_000.4) == "30000")
        #expect(Fmt.count(2) == "2")
        #expect(Fmt.count(2.5) == "2.50")
    }
}
