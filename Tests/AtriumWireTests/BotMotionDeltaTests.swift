import AtriumBehaviours
import AtriumWorld
import Foundation
import Testing
@testable import AtriumWire

/// The load runs' own motion, offline: the bots' behaviours (AtriumBehaviours) in the expo hall, in the mix of
/// LoadTests/expo-1000.yaml, stepped at its 30 Hz pose rate. `pose_bytes.delta_mean` of a load report is the
/// same measure taken on what the server really sent.
enum BotMotion {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static let expoHall: WorldDefinition = {
        let path = repositoryRoot.appendingPathComponent("Worlds/expo-hall.yaml").path
        do {
            return try WorldLoader.load(path: path)
        } catch {
            preconditionFailure("\(path): \(error)")
        }
    }()

    /// expo-1000.yaml's behaviours and seed.
    static let expoMix: [(kind: BehaviourKind, weight: Double)] = [
        (.wander, 300), (.visitBooths, 500), (.gatherStage, 199), (.presenter, 1),
    ]
    static let expoSeed: UInt64 = 1000

    /// Each bot's poses, one per 1/30 s from its spawn (as the load runner starts them: spawn points round
    /// robin, head 1.6 m up), for `bots` bots of the mix.
    static func tracks(bots: Int, seconds: Double, world: WorldDefinition = expoHall) -> [[AvatarPose]] {
        let assignment = BehaviourMix.assign(botCount: bots, shares: expoMix)
        let ticks = Int(seconds * 30)
        return assignment.enumerated().map { index, slot in
            let spawn = world.spawnPoints[index % world.spawnPoints.count]
            let context = BotContext(
                world: world, botIndex: index, botCount: bots, kindIndex: slot.kindIndex, kindCount: slot.kindCount,
                seed: expoSeed, voiceDutyCycle: 0.1)
            var bot = BotBehaviour(kind: slot.kind, context: context, start: spawn.position + Vec3(0, 1.6, 0))
            return (0..<ticks).map { bot.step(at: Double($0) / 30).pose }
        }
    }

    /// 100 bots (the check run's count) for 60 s, quantized with the expo hall's codec.
    static let codec = PoseCodec(bounds: expoHall.bounds)
    static let expo: [[QuantizedPose]] = tracks(bots: 100, seconds: 60).map { $0.map(codec.quantize) }

    /// Deltas against the same bot's pose 2–4 ticks earlier (the server's acknowledged baseline usually is).
    static func deltas(_ tracks: [[QuantizedPose]], seed: UInt64 = 7) -> DeltaStatistics {
        var stats = DeltaStatistics(codec: codec)
        var rng = SeededRNG(seed: seed)
        for track in tracks {
            for t in 4..<track.count { stats.add(from: track[t - rng.int(2...4)], to: track[t]) }
        }
        return stats
    }
}

@Suite(.serialized) struct BotMotionDeltaTests {
    static let stats = BotMotion.deltas(BotMotion.expo)

    /// Bits per pose by group, and the mean delta the load reports show for expo (~18 bytes before v6).
    @Test func expoMotionReport() {
        let s = Self.stats
        let n = Double(s.samples)
        var report = "expo-1000 bot motion (100 bots, 60 s, 30 Hz, baseline 2–4 ticks old), bits per pose:\n"
        var grouped = 0
        for g in DeltaGroup.allCases {
            let bits = s.classBits(g, g.widths(.v2))
            grouped += bits
            let best = s.bestWidths(g)
            let shares = s.classShares(g, g.widths(.v2)).map { String(format: "%.1f%%", $0 * 100) }.joined(separator: " ")
            report += String(format: "  %@: %.2f (widths %@; best here %@ → %.2f; classes %@)\n",
                             g.description, Double(bits) / n, g.widths(.v2).description, best.widths.description,
                             Double(best.bits) / n, shares)
        }
        report += String(format: "  flags, special and full rotations: %.2f\n", Double(s.deltaBits - grouped) / n)
        report += String(format: "  delta %.2f bytes, full %.2f bytes (%d samples)\n", s.meanDeltaBytes, s.meanFullBytes, s.samples)
        print(report)
        #expect(s.meanDeltaBytes <= 16)
        #expect(s.meanFullBytes <= 28)
    }

    /// Load runs at 700–1,000 bots report ~18 bytes where this offline measure gives ~14.5: their baselines are
    /// older (ack round trips, far avatars sent less often). Deltas grow with the baseline's age.
    @Test func baselineAgeReport() {
        var report = "expo-1000 bot motion, mean pose delta by baseline age:"
        var previous = 0.0
        for age in [1, 3, 6, 10, 15] {
            var s = DeltaStatistics(codec: BotMotion.codec)
            for track in BotMotion.expo { for t in 15..<track.count { s.add(from: track[t - age], to: track[t]) } }
            report += String(format: " %d ticks %.2f B;", age, s.meanDeltaBytes)
            #expect(s.meanDeltaBytes > previous, "older baselines cost more")
            previous = s.meanDeltaBytes
        }
        print(report)
    }
}
