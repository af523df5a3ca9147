@testable import AtriumClient
import AtriumWire
import Testing

/// Per-avatar interpolation when avatars arrive at different rates (rate tiers: the far crowd every 2nd to
/// 4th tick, an avatar that stops not at all).
@Suite struct InterpolationTests {
    static let tick: UInt64 = 33_333
    static let start: UInt64 = 1_000_000
    static let frame: UInt64 = 11_111  // 90 Hz
    static let speed: Float = 1.2  // m/s
    static let bounds = WorldBounds(min: Vec3(0, 0, 0), max: Vec3(100, 5, 100))

    /// A client that sees avatar 2 walk east, sent at the ticks `sendsAt` says (plus avatar 3 every tick, so
    /// snapshots come every tick), and draws a frame every 11.1 ms.
    struct Replay {
        var session = ClientSession()
        let codec = PoseCodec(bounds: InterpolationTests.bounds)
        /// Where avatar 2 is at `seconds` after the start.
        let path: (Double) -> Float
        /// Whether avatar 2 is in snapshot `tick`.
        let sendsAt: (Int) -> Bool
        /// How long snapshot `tick` takes to arrive, µs.
        let latency: (Int) -> UInt64
        /// Per frame: the render time, avatar 2's drawn x and extra delay, and its x at the render time itself
        /// (drawn without the extra delay).
        var drawn: [(time: UInt64, x: Float, extra: UInt64, plainX: Float)] = []

        init(
            path: @escaping (Double) -> Float, sendsAt: @escaping (Int) -> Bool,
            latency: @escaping (Int) -> UInt64 = { 20_000 + UInt64(($0 * 7919) % 11) * 1000 }
        ) {
            self.path = path
            self.sendsAt = sendsAt
            self.latency = latency
            let welcome = Welcome(
                version: ProtocolVersion.supported.upperBound, clientId: 1, role: .visitor, tickRateHz: 30,
                serverTimeMicros: InterpolationTests.start, worldId: "hall", worldContentHash: Array(repeating: 0, count: 32),
                bounds: InterpolationTests.bounds, capacity: 10)
            _ = session.receive(ServerMessage.welcome(welcome).encode(codec: nil), nowMicros: InterpolationTests.start)
            for id: UInt16 in [2, 3] {
                let joined = AvatarJoined(avatarId: id, role: .visitor, displayName: "a\(id)")
                _ = session.receive(ServerMessage.avatarJoined(joined).encode(codec: nil), nowMicros: InterpolationTests.start)
            }
        }

        func snapshot(_ k: Int) -> [UInt8] {
            let seconds = Double(UInt64(k) * InterpolationTests.tick) / 1e6
            func entry(_ id: UInt16, _ x: Float) -> SnapshotEntry {
                .full(ViewEntry(
                    id: id, lastInputSequence: UInt32(k),
                    pose: codec.quantize(AvatarPose(headPosition: Vec3(x, 1.6, 50), headRotation: .yaw(0)))))
            }
            var entries: [SnapshotEntry] = []
            if sendsAt(k) { entries.append(entry(2, path(seconds))) }
            entries.append(entry(3, 20))
            return SnapshotPacker.pack(
                sequence: UInt32(k), serverTimeMicros: InterpolationTests.start + UInt64(k) * InterpolationTests.tick,
                baseline: .empty, entries: entries, codec: codec
            ).parts[0]
        }

        /// Runs `seconds`: snapshot k leaves at its tick and arrives `latency(k)` later; frames in between.
        mutating func run(seconds: Double) {
            let end = InterpolationTests.start + UInt64(seconds * 1e6)
            var k = 1
            var now = InterpolationTests.start
            while now < end {
                while true {
                    let arrival = InterpolationTests.start + UInt64(k) * InterpolationTests.tick + latency(k)
                    guard arrival <= now else { break }
                    _ = session.receive(snapshot(k), nowMicros: arrival)
                    k += 1
                }
                if let pose = session.interpolatedPose(of: 2, atLocal: now), let render = session.renderTime(atLocal: now),
                    let avatar = session.avatars[2], let plain = avatar.pose(at: render)
                {
                    drawn.append((render, pose.headPosition.x, avatar.extraDelay(at: render), plain.headPosition.x))
                }
                now += InterpolationTests.frame
            }
        }

        /// Frame-to-frame advances of the drawn x (or the x without extra delay) for render times from `from`
        /// to `to` seconds.
        func advances(from: Double, to: Double, plain: Bool = false) -> [Float] {
            let lo = InterpolationTests.start + UInt64(from * 1e6)
            let hi = InterpolationTests.start + UInt64(to * 1e6)
            var out: [Float] = []
            for i in 1..<drawn.count where drawn[i - 1].time >= lo && drawn[i].time < hi {
                out.append(plain ? drawn[i].plainX - drawn[i - 1].plainX : drawn[i].x - drawn[i - 1].x)
            }
            return out
        }
    }

    static let perFrame = speed * Float(frame) / 1e6  // 1.33 cm

    /// A session that does not track motion decodes and acknowledges the same snapshots with the same
    /// entries, and leaves the avatars without samples.
    @Test func withoutMotionTrackingSnapshotsDecodeTheSame() {
        var tracking = Replay(path: { Float($0) }, sendsAt: { $0 % 2 == 0 })
        var bare = Replay(path: { Float($0) }, sendsAt: { $0 % 2 == 0 })
        bare.session.tracksAvatarMotion = false
        for k in 1...20 {
            let now = Self.start + UInt64(k) * Self.tick
            let a = tracking.session.receive(tracking.snapshot(k), nowMicros: now)
            let b = bare.session.receive(bare.snapshot(k), nowMicros: now)
            #expect(a == b)
            guard case .snapshot = b else {
                Issue.record("snapshot \(k): \(b)")
                return
            }
        }
        #expect(bare.session.newestSnapshot == 20 && tracking.session.newestSnapshot == 20)
        #expect(bare.session.snapshotsReceived == tracking.session.snapshotsReceived)
        #expect(tracking.session.avatars[2]?.samples.count == 10)
        #expect(bare.session.avatars[2]?.samples.isEmpty == true && bare.session.avatars[3]?.inView == false)
    }

    /// The samples are a ring of 16 overwritten in place: after 40 samples an avatar holds the newest 16,
    /// oldest first, and interpolates between neighbours across the ring's wrap point; a repeated time replaces
    /// the newest pose and an older one is ignored.
    @Test func samplesKeepTheNewestSixteenInOrder() throws {
        func pose(_ x: Float) -> AvatarPose { AvatarPose(headPosition: Vec3(x, 1.6, 50), headRotation: .yaw(0)) }
        var avatar = RemoteAvatar(id: 2, displayName: "a", role: .visitor, tickMicros: Self.tick)
        for k in 1...40 { avatar.add(pose(Float(k)), at: UInt64(k) * Self.tick, renderTime: nil) }
        #expect(avatar.samples.map(\.time) == (25...40).map { UInt64($0) * Self.tick })
        #expect(avatar.samples.map(\.pose.headPosition.x) == (25...40).map { Float($0) })
        // Samples 32 and 33 sit either side of the ring's wrap point (40 samples in 16 slots).
        let x = try #require(avatar.pose(at: 32 * Self.tick + Self.tick / 2)).headPosition.x
        #expect(abs(x - 32.5) < 0.001)
        #expect(avatar.pose(at: 0)?.headPosition.x == 25)
        #expect(avatar.pose(at: 99 * Self.tick)?.headPosition.x == 40)
        #expect(avatar.neededDelay == 0)
        avatar.add(pose(41), at: 40 * Self.tick, renderTime: nil)
        avatar.add(pose(7), at: 12 * Self.tick, renderTime: nil)
        #expect(avatar.samples.count == 16 && avatar.samples.first?.time == 25 * Self.tick)
        #expect(avatar.latestPose?.headPosition.x == 41)
        // Gaps of 3 ticks from here: the extra delay follows the longest recent gap less one tick.
        for k in 1...4 { avatar.add(pose(41 + Float(k)), at: (40 + 3 * UInt64(k)) * Self.tick, renderTime: nil) }
        #expect(avatar.neededDelay == 2 * Self.tick)
        #expect(avatar.samples.map(\.time).last == 52 * Self.tick && avatar.samples.count == 16)
    }

    /// Sent every 4th tick (7.5 Hz): drawn 100 ms further behind, it moves every frame at its speed — it
    /// neither holds its newest sample nor jumps — and never backwards.
    @Test func avatarEveryFourthTickMovesSmoothly() {
        var replay = Replay(path: { 10 + Self.speed * Float($0) }, sendsAt: { $0 % 4 == 0 })
        replay.run(seconds: 4)
        let steps = replay.advances(from: 0.8, to: 4)
        #expect(steps.count > 250)
        #expect(steps.allSatisfy { $0 >= 0.5 * Self.perFrame && $0 <= 1.5 * Self.perFrame },
                "advances \(steps.min()!)…\(steps.max()!) m, expected about \(Self.perFrame)")
        #expect(replay.advances(from: 0, to: 4).allSatisfy { $0 >= -0.0005 })
        // Three ticks of extra delay (four-tick spacing less the one the session's delay covers).
        #expect(replay.drawn.last!.extra == 3 * Self.tick)
        // Where it is drawn: where it was 3 ticks before the render time (itself 2 ticks behind the server).
        let last = replay.drawn.last!
        let seconds = Double(last.time - 3 * Self.tick - Self.start) / 1e6
        #expect(abs(last.x - (10 + Self.speed * Float(seconds))) < 0.005)

        // Drawn at the render time itself (no extra delay), the same samples hold the newest pose for about
        // half of each gap, then jump.
        let plain = replay.advances(from: 0.8, to: 4, plain: true)
        let held = plain.filter { $0 == 0 }.count
        #expect(held > plain.count / 3 && plain.max()! > 2 * Self.perFrame, "\(held) of \(plain.count) frames held")
    }

    /// An avatar whose state stops changing is sent once more (its final pose) and then not at all: it
    /// glides to that pose and stays there — no overshoot (no extrapolation), no snapping back.
    @Test func stoppedAvatarHoldsItsLastPose() {
        let stop = 2.0
        var replay = Replay(
            path: { 10 + Self.speed * Float(min($0, stop)) },
            sendsAt: { k in k % 4 == 0 && Double(k - 4) * Double(Self.tick) / 1e6 < stop })
        replay.run(seconds: 3.5)
        let final = 10 + Self.speed * Float(stop)
        #expect(replay.advances(from: 0, to: 3.5).allSatisfy { $0 >= -0.0005 })
        #expect(replay.drawn.allSatisfy { $0.x <= final + 0.0005 })
        #expect(abs(replay.drawn.last!.x - final) < 0.0005)
    }

    /// The rate changes (far → near → far → farther): the drawn time never runs backwards, the delay follows
    /// each rate, and once it has, motion is smooth again. With 20–30 ms of latency, and with 2 ms (a delay
    /// that grew at once would then draw times before the pose on screen).
    @Test(arguments: [false, true]) func rateChangesNeverRunBackwards(lowLatency: Bool) {
        // Ticks 1–45 every 4th, 46–90 every tick, 91–135 every 3rd, then every 2nd.
        let period: (Int) -> Int = { k in k <= 45 ? 4 : k <= 90 ? 1 : k <= 135 ? 3 : 2 }
        var replay = lowLatency
            ? Replay(path: { 10 + Self.speed * Float($0) }, sendsAt: { $0 % period($0) == 0 }, latency: { _ in 2000 })
            : Replay(path: { 10 + Self.speed * Float($0) }, sendsAt: { $0 % period($0) == 0 })
        replay.run(seconds: 6)
        let all = replay.advances(from: 0, to: 6)
        #expect(all.allSatisfy { $0 >= -0.0005 }, "min advance \(all.min()!)")
        // A shorter delay glides in at 125 % speed at most; a longer one never jumps ahead.
        #expect(all.allSatisfy { $0 <= 1.5 * Self.perFrame }, "max advance \(all.max()!)")
        func extra(at seconds: Double) -> UInt64 {
            let t = Self.start + UInt64(seconds * 1e6)
            return replay.drawn.last { $0.time <= t }!.extra
        }
        #expect(extra(at: 1.4) == 3 * Self.tick)
        #expect(extra(at: 2.9) == 0)
        #expect(extra(at: 4.4) == 2 * Self.tick)
        #expect(extra(at: 5.9) == 1 * Self.tick)
        // Settled within 0.6 s of each change: every frame moves at about the avatar's speed.
        for (from, to) in [(0.8, 1.4), (2.1, 2.9), (3.6, 4.4), (5.1, 5.9)] {
            let steps = replay.advances(from: from, to: to)
            #expect(steps.allSatisfy { $0 >= 0.5 * Self.perFrame && $0 <= 1.5 * Self.perFrame },
                    "\(from)–\(to) s: advances \(steps.min()!)…\(steps.max()!)")
        }
    }
}
