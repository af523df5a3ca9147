// Wire suite: what the server and clients pay per message in AtriumWire.
//
//   POSE encode / decode / encode+decode   one client → server POSE, both hands tracked
//   SNAPSHOT encode / decode, 64 and 200   one tick's SnapshotPacker.pack, and ServerMessage.decode of every part
//
// Inputs are deterministic (fixed-seed PRNG) and inside the expo-hall bounds, loaded from Worlds/expo-hall.yaml
// with the same WorldLoader the server uses. Every avatar has both hands, so each PoseBits is the largest the
// world allows (214 bits in the expo hall) and the byte counts are the worst case for that many avatars.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import AtriumWire
import AtriumWorld
import Benchmark

let benchmarks: @Sendable () -> Void = {
    let world = Fixtures.loadWorld("expo-hall")
    let codec = PoseCodec(bounds: world.bounds)

    // Size of what one measured iteration produced, recorded once per iteration (so every percentile is the
    // same); not divided by the inner loop.
    let wireBytes = BenchmarkMetric.custom("bytes on the wire", polarity: .prefersSmaller, useScalingFactor: false)
    let datagrams = BenchmarkMetric.custom("datagrams", polarity: .prefersSmaller, useScalingFactor: false)
    // On Linux the package's cpuTotal comes from /proc/self/stat in scheduler ticks (10 ms), far coarser than one
    // iteration here; this one is CLOCK_THREAD_CPUTIME_ID around the inner loop, per operation like wallClock.
    let threadCPU = BenchmarkMetric.custom("CPU time, thread (ns)", polarity: .prefersSmaller, useScalingFactor: true)
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

    // MARK: SNAPSHOT

    for count in [64, 200] {
        let avatars = Fixtures.avatars(count, &rng, bounds: world.bounds)
        let parts = SnapshotPacker.pack(sequence: 42, serverTimeMicros: 1_234_567, avatars: avatars, codec: codec)
        Fixtures.checkSnapshot(parts, avatars: count, codec: codec)
        // An iteration here is 10–50 ms: fewer warmup iterations, more time for samples.
        var snapshot = Benchmark.defaultConfiguration
        snapshot.warmupIterations = 2
        snapshot.maxDuration = .seconds(4)
        var snapshotWithBytes = snapshot
        snapshotWithBytes.metrics += [wireBytes, datagrams]

        Benchmark("SNAPSHOT encode \(count) avatars", configuration: snapshotWithBytes) { benchmark in
            var bytes = 0
            var partCount = 0
            let cpu = ThreadCPUClock()
            for _ in benchmark.scaledIterations {
                let parts = SnapshotPacker.pack(sequence: 42, serverTimeMicros: 1_234_567, avatars: avatars, codec: codec)
                bytes = parts.reduce(0) { $0 + $1.count }
                partCount = parts.count
                blackHole(parts)
            }
            benchmark.measurement(threadCPU, cpu.elapsed())
            benchmark.measurement(wireBytes, bytes)
            benchmark.measurement(datagrams, partCount)
        }

        Benchmark("SNAPSHOT decode \(count) avatars", configuration: snapshot) { benchmark in
            let cpu = ThreadCPUClock()
            for _ in benchmark.scaledIterations {
                for part in parts {
                    blackHole(try ServerMessage.decode(part, codec: codec))
                }
            }
            benchmark.measurement(threadCPU, cpu.elapsed())
        }
    }
}

/// CPU time of the calling thread since `init`, in nanoseconds.
struct ThreadCPUClock {
    let start = Self.now()

    func elapsed() -> Int { Self.now() - start }

    static func now() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Int(ts.tv_sec) * 1_000_000_000 + Int(ts.tv_nsec)
    }
}

/// SplitMix64: a small, fast, reproducible generator (the standard library's is seeded randomly).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Fixtures {
    /// Distinct poses per POSE benchmark (a power of two, so the index is a mask).
    static let ringSize = 1024

    /// Loads Worlds/<id>.yaml from the repository this file is in (Benchmarks/Benchmarks/Wire/Wire.swift).
    static func loadWorld(_ id: String) -> WorldDefinition {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(4)
        let path = (parts + ["Worlds", "\(id).yaml"]).joined(separator: "/")
        do {
            return try WorldLoader.load(path: path)
        } catch {
            fatalError("Wire benchmarks: cannot load \(path): \(error)")
        }
    }

    /// POSE messages as a client sends them: sequence 1, 2, 3, … at 16 ms intervals.
    static func poseInputs(_ count: Int, _ rng: inout SplitMix64, bounds: WorldBounds) -> [PoseInput] {
        var inputs: [PoseInput] = []
        for i in 0..<UInt32(count) {
            let pose = randomPose(&rng, bounds: bounds)
            inputs.append(PoseInput(inputSequence: i + 1, clientTimeMs: 16 * i, ackSnapshot: i / 2, pose: pose))
        }
        return inputs
    }

    /// One tick's avatars, ids 1…count.
    static func avatars(_ count: Int, _ rng: inout SplitMix64, bounds: WorldBounds) -> [AvatarState] {
        var avatars: [AvatarState] = []
        for i in 0..<UInt16(count) {
            let pose = randomPose(&rng, bounds: bounds)
            avatars.append(AvatarState(id: i + 1, lastInputSequence: 1000 + UInt32(i), pose: pose))
        }
        return avatars
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

    /// Every part decodes, and together they hold all the avatars.
    static func checkSnapshot(_ parts: [[UInt8]], avatars: Int, codec: PoseCodec) {
        var decoded = 0
        for part in parts {
            guard case .snapshot(let s) = try? ServerMessage.decode(part, codec: codec) else {
                fatalError("Wire benchmarks: a SNAPSHOT part does not decode")
            }
            precondition(part.count <= WireLimits.snapshotDatagramBytes, "SNAPSHOT part over the datagram budget")
            decoded += s.avatars.count
        }
        precondition(decoded == avatars, "SNAPSHOT parts hold \(decoded) avatars, expected \(avatars)")
    }
}
