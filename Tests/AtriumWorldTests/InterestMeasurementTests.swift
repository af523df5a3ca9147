import AtriumWire
import AtriumWorld
import Testing

@Suite struct InterestMeasurementTests {
    /// Measurement (prints only): one tick of the server's whole interest work — classify every
    /// avatar, update the grid, then for every recipient relevance, accumulation and selection under
    /// 256 kbps at 30 Hz — for a walking crowd in the expo hall. Target: ≤ 1 ms per tick at 1,000
    /// avatars (in a release build; this debug figure is many times slower).
    @Test(arguments: [1_000, 4_000])
    func oneTickOfInterestForEveryRecipient(avatars: Int) throws {
        let world = try loadShipped("expo-hall.yaml")
        var harness = InterestTickHarness(world: world, count: avatars, seed: 12)
        for _ in 0..<10 { harness.tick() }  // warm up: sets filled, buffers grown
        let clock = ContinuousClock()
        var prepare = Duration.zero
        var recipients = Duration.zero
        let ticks = avatars > 1_000 ? 3 : 10
        var relevant = 0
        var selected = 0
        var deferred = 0
        for _ in 0..<ticks {
            harness.moveCrowd()
            prepare += clock.measure { harness.prepare() }
            recipients += clock.measure { harness.recipients() }
            relevant += harness.relevantPairs
            selected += harness.selectedPairs
            deferred += harness.deferredPairs
        }
        let total = (prepare + recipients) / ticks
        print(
            "Interest tick, \(avatars) walking avatars in the expo hall (debug build): \(total) per tick "
                + "(classify + grid \(prepare / ticks), recipients \(recipients / ticks)); per recipient "
                + "\(relevant / ticks / avatars) relevant, \(selected / ticks / avatars) sent, "
                + "\(deferred / ticks / avatars) deferred; budget \(harness.budgetBits) bits")
    }
}
