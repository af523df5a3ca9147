// Wire suite: what the server and clients pay per message in AtriumWire (protocol v2).
//
//   POSE encode / decode / encode+decode    one client → server POSE, both hands tracked
//   SNAPSHOT encode / decode, 64 and 200    one tick in full (every avatar a full entry, baseline 0):
//                                           SnapshotPacker.pack, and a client's SnapshotReceiver taking every part
//   SNAPSHOT delta encode per recipient     one recipient's snapshot: 64 relevant avatars in motion, as updates
//                                           against the view of 3 ticks before
//
// Inputs are deterministic (fixed-seed PRNG) and inside the expo-hall bounds, loaded from Worlds/expo-hall.yaml
// with the same WorldLoader the server uses. In the POSE and full SNAPSHOT benchmarks every avatar has both hands
// and uniformly random rotations, so each PoseBits is the largest the world allows (214 bits in the expo hall)
// and the byte counts are the worst case for that many avatars. The delta benchmark uses realistic motion instead
// (`HeadsetMotion`): delta sizes depend on how far people move between ticks.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import AtriumWire
import AtriumWorld
import Benchmark
import BenchmarkSupport

let benchmarks: @Sendable () -> Void = {
    let world = BenchmarkWorlds.load("expo-hall")
    let codec = PoseCodec(bounds: world.bounds)

    // Size of what one measured iteration produced, recorded once per iteration; not divided by the inner loop.
    let wireBytes = BenchmarkMetric.custom("bytes on the wire", polarity: .prefersSmaller, useScalingFactor: false)
    let datagrams = BenchmarkMetric.custom("datagrams", polarity: .prefersSmaller, useScalingFactor: false)
    let threadCPU = BenchmarkMetric.threadCPU
    let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, threadCPU, .throughput, .mallocCountTotal]

    // Every benchmark runs 1000 operations per measured iteration (results are shown per operation): that keeps
    // the framework's own per-iteration work (clock and /proc reads, which allocate) out of the figures.
    Benchmark.defaultConfiguration = .init(
        metrics: metrics, units: [threadCPU: .count, wireBytes: .count, datagrams: .count], warmupIterations: 10,
        scalingFactor: .kilo, maxDuration: .seconds(2))

    // MARK: POSE

    // A ring of distinct poses, so branches and rotation indices vary as they would in a live session.
    var rng = SplitMix64(seed: 0x4154_5249_554d)  // "ATRIUM"
    let inputs = Fixtures.poseInputs(Fixtures.ringSize, &rng, bounds: world.bounds)
    let packets = inputs.map { ClientMessage.pose($0).encode(codec: codec) }
    Fixtures.checkPoses(packets, codec: codec)
    let mask = Fixtures.ringSize - 1

    var withBytes = Benchmark.defaultConfiguration
    withBytes.metrics += [wireBytes]

    Benchmark("POSE encode", configuration: withBytes) { benchmark in
        var bytes = 0
        let cpu = ThreadCPUClock()
        for i in benchmark.scaledIterations {
            let packet = ClientMessage.pose(inputs[i & mask]).encode(codec: codec)
            bytes = packet.count
            blackHole(packet)
        }
        benchmark.measurement(threadCPU, cpu.elapsed())
        benchmark.measurement(wireBytes, bytes)
    }

    Benchmark("POSE decode") { benchmark in
        let cpu = ThreadCPUClock()
        for i in benchmark.scaledIterations {
            blackHole(try ClientMessage.decode(packets[i & mask], codec: codec))
        }
        benchmark.measurement(threadCPU, cpu.elapsed())
    }

    Benchmark("POSE encode+decode") { benchmark in
        let cpu = ThreadCPUClock()
        for i in benchmark.scaledIterations {
            let packet = ClientMessage.pose(inputs[i & mask]).encode(codec: codec)
            blackHole(try ClientMessage.decode(packet, codec: codec))
        }
        benchmark.measurement(threadCPU, cpu.elapsed())
    }

    // MARK: SNAPSHOT, full state

    // An iteration here is 10–50 ms: fewer warmup iterations, more time for samples.
    var snapshot = Benchmark.defaultConfiguration
    snapshot.warmupIterations = 2
    snapshot.maxDuration = .seconds(4)
    var snapshotWithBytes = snapshot
    snapshotWithBytes.metrics += [wireBytes, datagrams]

    for count in [64, 200] {
        let entries = Fixtures.fullEntries(count, &rng, codec: codec)
        let parts = SnapshotPacker.pack(
            sequence: 42, serverTimeMicros: 1_234_567, baseline: .empty, entries: entries, codec: codec).parts
        Fixtures.checkFullSnapshot(parts, entries: entries, codec: codec)

        Benchmark("SNAPSHOT encode \(count) avatars", configuration: snapshotWithBytes) { benchmark in
            var bytes = 0
            var partCount = 0
            let cpu = ThreadCPUClock()
            for _ in benchmark.scaledIterations {
                let parts = SnapshotPacker.pack(
                    sequence: 42, serverTimeMicros: 1_234_567, baseline: .empty, entries: entries, codec: codec).parts
                bytes = parts.reduce(0) { $0 + $1.count }
                partCount = parts.count
                blackHole(parts)
            }
            benchmark.measurement(threadCPU, cpu.elapsed())
            benchmark.measurement(wireBytes, bytes)
            benchmark.measurement(datagrams, partCount)
        }

        // As a client takes them: ServerMessage.decode (the header) and SnapshotReceiver.receive (the entries
        // against the empty view, the parts assembled into the view of the sequence). The receiver is reset
        // before each tick, or it would take the same sequence again as a duplicate.
        Benchmark("SNAPSHOT decode \(count) avatars", configuration: snapshot) { benchmark in
            var receiver = SnapshotReceiver()
            let cpu = ThreadCPUClock()
            for _ in benchmark.scaledIterations {
                receiver.reset()
                for part in parts {
                    guard case .snapshot(let s) = try ServerMessage.decode(part, codec: codec) else { fatalError() }
                    blackHole(try receiver.receive(s, codec: codec))
                }
            }
            benchmark.measurement(threadCPU, cpu.elapsed())
        }
    }

    // MARK: SNAPSHOT, delta

    // One recipient with 64 relevant avatars (half walking, half standing around), every one changed and sent
    // every tick, each snapshot encoded against the view of 3 ticks before (the recipient's acknowledgement
    // lagging by a round trip). One operation is one tick's DeltaSnapshot.encode, as the server's spatial mode
    // does per recipient; the operations cycle through 300 consecutive ticks (10 s at 30 Hz).
    let delta = DeltaFixture(avatars: 64, ticks: 300, baselineAge: 3, world: world, codec: codec)
    delta.check()
    var deltaConfiguration = Benchmark.defaultConfiguration
    deltaConfiguration.metrics += [wireBytes]

    Benchmark("SNAPSHOT delta encode per recipient", configuration: deltaConfiguration) { benchmark in
        var bytes = 0
        let cpu = ThreadCPUClock()
        for i in benchmark.scaledIterations {
            let encoded = delta.encode(i)
            bytes += encoded.count
            blackHole(encoded)
        }
        benchmark.measurement(threadCPU, cpu.elapsed())
        // The mean over this iteration's snapshots (they differ from tick to tick).
        benchmark.measurement(wireBytes, (bytes + benchmark.scaledIterations.count / 2) / benchmark.scaledIterations.count)
    }
}

enum Fixtures {
    /// Distinct poses per POSE benchmark (a power of two, so the index is a mask).
    static let ringSize = 1024

    /// POSE messages as a client sends them: sequence 1, 2, 3, … at 16 ms intervals.
    static func poseInputs(_ count: Int, _ rng: inout SplitMix64, bounds: WorldBounds) -> [PoseInput] {
        var inputs: [PoseInput] = []
        for i in 0..<UInt32(count) {
            let pose = randomPose(&rng, bounds: bounds)
            inputs.append(PoseInput(inputSequence: i + 1, clientTimeMs: 16 * i, ackSnapshot: i / 2, pose: pose))
        }
        return inputs
    }

    /// One tick's avatars, ids 1…count, as full entries (what a recipient with no acknowledged view gets).
    static func fullEntries(_ count: Int, _ rng: inout SplitMix64, codec: PoseCodec) -> [SnapshotEntry] {
        (0..<UInt16(count)).map { i in
            let pose = codec.quantize(randomPose(&rng, bounds: codec.bounds))
            return .full(ViewEntry(id: i + 1, lastInputSequence: 1000 + UInt32(i), pose: pose))
        }
    }

    /// Head anywhere in the bounds (y kept 0.3 m clear of floor and ceiling), both hands within 0.8 m of it and
    /// inside the bounds, independent uniformly random rotations; hand raised / speaking at random.
    static func randomPose(_ rng: inout SplitMix64, bounds: WorldBounds) -> AvatarPose {
        let head = Vec3(
            Float.random(in: bounds.min.x...bounds.max.x, using: &rng),
            Float.random(in: (bounds.min.y + 0.3)...(bounds.max.y - 0.3), using: &rng),
            Float.random(in: bounds.min.z...bounds.max.z, using: &rng))
        func hand() -> HandPose {
            let offset = Vec3(
                Float.random(in: -0.8...0.8, using: &rng), Float.random(in: -0.8...0.8, using: &rng),
                Float.random(in: -0.8...0.8, using: &rng))
            return HandPose(position: bounds.clamp(head + offset), rotation: randomRotation(&rng))
        }
        return AvatarPose(
            headPosition: head, headRotation: randomRotation(&rng), leftHand: hand(), rightHand: hand(),
            handRaised: Bool.random(using: &rng), speaking: Bool.random(using: &rng))
    }

    /// Uniform on the unit 3-sphere: rejection-sample the 4-ball, then normalise.
    static func randomRotation(_ rng: inout SplitMix64) -> Quat {
        while true {
            let q = Quat(
                x: Float.random(in: -1...1, using: &rng), y: Float.random(in: -1...1, using: &rng),
                z: Float.random(in: -1...1, using: &rng), w: Float.random(in: -1...1, using: &rng))
            let n = q.lengthSquared
            if n > 1e-4, n <= 1 { return q.normalized }
        }
    }

    /// The benchmarks must measure the success path: every packet decodes back to a POSE.
    static func checkPoses(_ packets: [[UInt8]], codec: PoseCodec) {
        for packet in packets {
            guard case .pose = try? ClientMessage.decode(packet, codec: codec) else {
                fatalError("Wire benchmarks: a POSE fixture does not decode")
            }
        }
    }

    /// Every part fits a datagram, and a receiver given all of them completes a view holding every entry.
    static func checkFullSnapshot(_ parts: [[UInt8]], entries: [SnapshotEntry], codec: PoseCodec) {
        var receiver = SnapshotReceiver()
        var completed: SnapshotView?
        for part in parts {
            precondition(part.count <= WireLimits.snapshotDatagramBytes, "SNAPSHOT part over the datagram budget")
            guard case .snapshot(let s) = try? ServerMessage.decode(part, codec: codec),
                case .applied(let applied) = try? receiver.receive(s, codec: codec)
            else {
                fatalError("Wire benchmarks: a SNAPSHOT part does not decode")
            }
            completed = applied.completed
        }
        precondition(completed?.avatars == entries.map { $0.state! }, "SNAPSHOT parts do not give the view they were made from")
    }
}

// MARK: - Delta fixture

/// One recipient's view of `avatars` moving people over `ticks` ticks: tick k is snapshot sequence k + 1, every
/// avatar is an update in it, and it is encoded against the view of snapshot k + 1 − `baselineAge`.
struct DeltaFixture {
    let codec: PoseCodec
    let baselineAge: Int
    /// The view after each tick: every avatar's state then (everyone relevant is sent every tick).
    let views: [SnapshotView]
    /// Each tick's entries, sorted by id.
    let entries: [[SnapshotEntry]]

    init(avatars: Int, ticks: Int, baselineAge: Int, world: WorldDefinition, codec: PoseCodec) {
        self.codec = codec
        self.baselineAge = baselineAge
        let tickRate = Double(world.tickRate)
        // Everyone within the interest radius of one spot in the hall, as one recipient's relevant set is.
        let centre = (x: -30.0, z: 10.0)
        let spread = Double(world.interestRadius) * 0.7
        var motions = (0..<avatars).map { i in
            HeadsetMotion(
                kind: i % 2 == 0 ? .walking : .dwelling, seed: 0xDE17A &+ UInt64(i) &* 7919,
                centre: centre, spread: spread)
        }
        var sequences = (0..<avatars).map { UInt32(500 + 37 * $0) }
        for i in motions.indices {
            for _ in 0..<Int(2 * tickRate) { _ = motions[i].step(1 / tickRate) }  // settle in
        }
        var views: [SnapshotView] = []
        var entries: [[SnapshotEntry]] = []
        for k in 0..<ticks {
            var states: [ViewEntry] = []
            for i in motions.indices {
                let pose = codec.quantize(motions[i].step(1 / tickRate))
                sequences[i] &+= 1
                states.append(ViewEntry(id: UInt16(i + 1), lastInputSequence: sequences[i], pose: pose))
            }
            views.append(SnapshotView(sequence: UInt32(k + 1), avatars: states))
            entries.append(states.map { .update($0) })
        }
        self.views = views
        self.entries = entries
    }

    /// Operation `i`: the snapshot of one of the ticks that have a baseline.
    @inline(__always)
    func encode(_ i: Int) -> [UInt8] {
        let k = baselineAge + i % (entries.count - baselineAge)
        return DeltaSnapshot.encode(
            sequence: UInt32(k + 1), serverTimeMicros: UInt64(k + 1) * 33_333, baseline: views[k - baselineAge],
            entries: entries[k], codec: codec
        ).bytes
    }

    /// Every snapshot is one datagram and decodes against its baseline into the states of its tick (an update
    /// is written full when that is smaller, so the entries' kinds may differ).
    func check() {
        for i in 0..<(entries.count - baselineAge) {
            let k = baselineAge + i
            let bytes = encode(i)
            precondition(bytes.count <= WireLimits.snapshotDatagramBytes, "delta SNAPSHOT over the datagram budget")
            guard let (header, decoded) = try? DeltaSnapshot.decode(bytes, baseline: views[k - baselineAge], codec: codec) else {
                fatalError("Wire benchmarks: a delta SNAPSHOT does not decode")
            }
            precondition(header.baseline == UInt32(k + 1 - baselineAge), "delta SNAPSHOT against the wrong baseline")
            precondition(decoded.map(\.state) == entries[k].map(\.state), "delta SNAPSHOT does not decode to its entries")
        }
    }
}
