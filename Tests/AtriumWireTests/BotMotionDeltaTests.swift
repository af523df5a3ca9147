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

    /// The codings tried for protocol v6 (issue #4), each measured on this motion and, so that a gain is not a
    /// fit to the bots alone, on the synthetic headset motion of DeltaSizeTests (walking + dwelling). None saves
    /// 10 % of the bots' bits without costing the synthetic motion, except 2 mm hand steps with widths fitted to
    /// the bots within 5 % of the synthetic optimum (−11 %), which changes PoseBits too; the wire stays v5 for now.
    /// The expectations fail when these findings stop holding (then the choice is worth revisiting).
    @Test func codingIdeasReport() {
        let synthetic = DeltaSizeTests.walking + DeltaSizeTests.dwelling
        let bots = Self.stats
        let v2 = (bots: bots.meanDeltaBytes, synthetic: synthetic.meanDeltaBytes)
        var report = String(format: "pose delta coding ideas, mean bytes: bots | synthetic; v2: %.2f | %.2f\n", v2.bots, v2.synthetic)
        func line(_ name: String, _ b: Double, _ s: Double) {
            report += String(format: "  %@: %.2f (%+.1f%%) | %.2f (%+.1f%%)\n", name, b, (b / v2.bots - 1) * 100, s,
                             (s / v2.synthetic - 1) * 100)
        }
        // Class widths re-fitted on the bots alone, and on both motions (each weighted per pose).
        let botsBest = CodingIdeas.layout { g in bots.bestWidths(g).widths }
        line("widths re-fitted on the bots (\(botsBest))", bots.meanDeltaBytes(botsBest), synthetic.meanDeltaBytes(botsBest))
        let joint = CodingIdeas.layout { g in CodingIdeas.constrainedBest(g, bots, synthetic, slack: .infinity, joint: true) }
        line("widths re-fitted on both (\(joint))", bots.meanDeltaBytes(joint), synthetic.meanDeltaBytes(joint))
        let near = CodingIdeas.layout { g in CodingIdeas.constrainedBest(g, bots, synthetic, slack: 1.05) }
        line("widths best for the bots within 5 % of the synthetic optimum (\(near))", bots.meanDeltaBytes(near),
             synthetic.meanDeltaBytes(near))
        #expect(bots.meanDeltaBytes(botsBest) < v2.bots * 0.9 && synthetic.meanDeltaBytes(botsBest) > v2.synthetic * 1.1)
        #expect(bots.meanDeltaBytes(joint) > v2.bots * 0.9 && bots.meanDeltaBytes(near) > v2.bots * 0.9)

        // Hands in the head's yaw frame (offsets and rotations), and hand offsets in 2 mm steps (§8.2 has 1 mm).
        let tracks = BotMotion.tracks(bots: 100, seconds: 60)
        let yawFrame = BotMotion.deltas(tracks.map { $0.map { CodingIdeas.quantize($0, yawFrame: true, step: 1) } })
        report += String(format: "  hands in the head's yaw frame: %.2f (%+.1f%%); with widths re-fitted on the bots %.2f (%+.1f%% on those widths' %.2f)\n",
                         yawFrame.meanDeltaBytes, (yawFrame.meanDeltaBytes / v2.bots - 1) * 100,
                         yawFrame.meanDeltaBytes(botsBest), (yawFrame.meanDeltaBytes(botsBest) / bots.meanDeltaBytes(botsBest) - 1) * 100,
                         bots.meanDeltaBytes(botsBest))
        #expect(yawFrame.meanDeltaBytes > v2.bots * 0.95, "the bots' hands follow their body, not their head")
        let coarse = BotMotion.deltas(tracks.map { $0.map { CodingIdeas.quantize($0, yawFrame: false, step: 2) } })
        var coarseSynthetic = DeltaStatistics(codec: Fixtures.hallCodec)
        var rng = SeededRNG(seed: 9)
        for kind in [MotionKind.walking, .dwelling] {
            for track in simulatedPoses(kind: kind, count: 24, ticks: 900, seed: kind == .walking ? 101 : 102, codec: Fixtures.hallCodec) {
                let poses = track.map(CodingIdeas.halveHandSteps)
                for t in 4..<poses.count { coarseSynthetic.add(from: poses[t - rng.int(2...4)], to: poses[t]) }
            }
        }
        line("hand offsets in 2 mm steps", coarse.meanDeltaBytes, coarseSynthetic.meanDeltaBytes)
        let coarseNear = CodingIdeas.layout { g in CodingIdeas.constrainedBest(g, coarse, coarseSynthetic, slack: 1.05) }
        line("2 mm, widths best for the bots within 5 % of the synthetic optimum (\(coarseNear))",
             coarse.meanDeltaBytes(coarseNear), coarseSynthetic.meanDeltaBytes(coarseNear))
        #expect(coarse.meanDeltaBytes > v2.bots * 0.9)
        print(report)
    }
}

extension DeltaStatistics {
    func meanDeltaBytes(_ layout: PoseDeltaLayout) -> Double { Double(deltaBits(with: layout)) / Double(max(1, samples)) / 8 }
}

/// The alternatives `codingIdeasReport` measures.
enum CodingIdeas {
    static func layout(_ widths: (DeltaGroup) -> DeltaClassWidths) -> PoseDeltaLayout {
        PoseDeltaLayout(
            positionHorizontal: widths(.positionHorizontal), positionVertical: widths(.positionVertical),
            headRotation: widths(.headRotation), handOffset: widths(.handOffset), handRotation: widths(.handRotation))
    }

    /// With `joint`: the widths minimising the sum of both motions' bits per pose for group `g`. Otherwise the
    /// widths minimising `a`'s bits among those within `slack` × `b`'s own optimum.
    static func constrainedBest(
        _ g: DeltaGroup, _ a: DeltaStatistics, _ b: DeltaStatistics, slack: Double, joint: Bool = false
    ) -> DeltaClassWidths {
        let raw = min(g.rawBits(a.codec), g.rawBits(b.codec))
        let ca = a.cumulative(g), cb = b.cumulative(g)
        let limit = joint ? .infinity : Double(b.bestWidths(g).bits) * slack
        var best = (widths: g.widths(.v2), bits: Double.infinity)
        for small in 0...raw {
            for medium in 0...raw {
                for large in 0...raw {
                    let w = DeltaClassWidths(small, medium, large)
                    let bBits = Double(b.classBits(g, w, cumulative: cb))
                    guard bBits <= limit else { continue }
                    let bits = Double(a.classBits(g, w, cumulative: ca)) / Double(a.samples) + (joint ? bBits / Double(b.samples) : 0)
                    if bits < best.bits { best = (w, bits) }
                }
            }
        }
        return best.widths
    }

    /// A 1 mm pose's hand offsets re-rounded to 2 mm steps (for the synthetic motion, which comes quantized).
    static func halveHandSteps(_ q: QuantizedPose) -> QuantizedPose {
        var q = q
        func halve(_ hand: QuantizedHand?) -> QuantizedHand? {
            guard var hand else { return nil }
            for axis in 0..<3 {
                let mm = Double(Int(hand[axis: axis]) - PoseCodec.handOffsetBias)
                hand[axis: axis] = UInt16((mm / 2).rounded(.toNearestOrAwayFromZero) + Double(PoseCodec.handOffsetBias))
            }
            return hand
        }
        q.left = halve(q.left)
        q.right = halve(q.right)
        return q
    }

    /// The yaw part of a rotation (its twist about y): only a square root and divisions, so both ends of a
    /// link would compute the same bits.
    static func yaw(_ q: DQuat) -> DQuat {
        let n = (q.y * q.y + q.w * q.w).squareRoot()
        guard n > 0 else { return DQuat(x: 0, y: 0, z: 0, w: 1) }
        return DQuat(x: 0, y: q.y / n, z: 0, w: q.w / n)
    }

    /// `pose` quantized as v5 does, but its hands' offsets in `step` mm and, with `yawFrame`, offsets and
    /// rotations relative to the decoded head's yaw instead of world axes / the whole head rotation.
    static func quantize(_ pose: AvatarPose, yawFrame: Bool, step: Double) -> QuantizedPose {
        let codec = BotMotion.codec
        var q = codec.quantize(pose)
        let decoded = codec.dequantize(q)
        let headRotation = DQuat(decoded.headRotation)
        let frame = yawFrame ? yaw(headRotation) : DQuat(x: 0, y: 0, z: 0, w: 1)
        let rotationFrame = yawFrame ? frame : headRotation
        func hand(_ h: HandPose?) -> QuantizedHand? {
            guard let h else { return nil }
            let d = h.position - decoded.headPosition
            let local = frame.conjugate * DQuat(x: Double(d.x), y: Double(d.y), z: Double(d.z), w: 0) * frame
            func code(_ v: Double) -> UInt16 { UInt16(clamping: Int((v * 1000 / step).rounded()) + PoseCodec.handOffsetBias) }
            let rotation = SmallestThree.pack(rotationFrame.conjugate * DQuat(h.rotation), bits: PoseCodec.handRotationBits)
            return QuantizedHand(x: code(local.x), y: code(local.y), z: code(local.z), rotation: QuantizedRotation(rotation))
        }
        q.left = hand(pose.leftHand)
        q.right = hand(pose.rightHand)
        return q
    }
}

