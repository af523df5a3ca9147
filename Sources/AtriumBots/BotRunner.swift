import AtriumBehaviours
import AtriumClient
import AtriumTransport
import AtriumWire
import Histogram

/// What a run does. The load-test scenarios fill this in; `atrium-bots run` fills it from flags.
public struct BotRunConfiguration: Sendable {
    public var server: TransportAddress
    public var worldId: String
    public var bots: Int
    public var durationSeconds: Double
    /// Joins started per second.
    public var rampPerSecond: Double
    /// POSE messages per bot per second.
    public var poseRateHz: Double
    public var seed: UInt64
    public var role: Role
    public var connectTimeoutSeconds: Double
    public var namePrefix: String

    public init(
        server: TransportAddress, worldId: String, bots: Int, durationSeconds: Double, rampPerSecond: Double = 100,
        poseRateHz: Double = 30, seed: UInt64 = 1, role: Role = .visitor, connectTimeoutSeconds: Double = 10,
        namePrefix: String = "bot"
    ) {
        self.server = server
        self.worldId = worldId
        self.bots = bots
        self.durationSeconds = durationSeconds
        self.rampPerSecond = rampPerSecond
        self.poseRateHz = poseRateHz
        self.seed = seed
        self.role = role
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.namePrefix = namePrefix
    }
}

/// The once-a-second line.
public struct BotProgress: Sendable {
    public var elapsedSeconds: Double
    public var connected: Int
    public var failed: Int
    public var snapshotsPerSecondPerBot: Double
    public var rttMillisP50: Double
    public var rttMillisP99: Double
    public var poseLatencyMillisP50: Double
    public var poseLatencyMillisP99: Double
    /// How far the send loop ran behind its schedule in the last second (ms, worst case).
    public var sendLagMillisMax: Double

    public var line: String {
        func f(_ v: Double) -> String { String(format1: v) }
        return "t=\(Int(elapsedSeconds))s connected=\(connected) failed=\(failed) snapshots/s/bot=\(f(snapshotsPerSecondPerBot)) "
            + "rtt_ms p50=\(f(rttMillisP50)) p99=\(f(rttMillisP99)) pose_ms p50=\(f(poseLatencyMillisP50)) p99=\(f(poseLatencyMillisP99))"
            + (sendLagMillisMax > 50 ? " (bot send loop behind by \(Int(sendLagMillisMax)) ms)" : "")
    }
}

extension String {
    public init(format1 value: Double) {
        guard value.isFinite else {
            self = "-"
            return
        }
        let scaled = (value * 10).rounded()
        self = "\(Int(scaled) / 10).\(abs(Int(scaled)) % 10)"
    }
}

/// What a whole run measured.
public struct BotRunResult: Sendable {
    public var requested: Int
    public var connected: Int
    public var failed: Int
    public var failureReasons: [String: Int]
    public var durationSeconds: Double
    public var rtt: Percentiles
    public var poseLatency: Percentiles
    public var connectTime: Percentiles
    public var snapshotsPerSecondPerBot: Double
    public var downBytesPerSecondPerBot: Double
    public var upBytesPerSecondPerBot: Double
    public var downDatagramsPerSecondPerBot: Double
    public var upDatagramsPerSecondPerBot: Double
    public var maxSendLagMillis: Double

    public struct Percentiles: Sendable, Equatable {
        public var p50: Double
        public var p99: Double
        public var max: Double
        public var count: UInt64
    }
}

/// Drives many bots from one thread over one ENet host: no thread per bot, no per-bot logging.
public final class BotRunner {
    struct Bot {
        var session = ClientSession()
        var peer: PeerHandle?
        var behaviour: WanderBehaviour?
        var connected = false
        var failed = false
        var resynced = false
        var startedMicros: UInt64 = 0
        var lastPingMicros: UInt64 = 0
        /// Newest input sequence seen per other avatar, so each sample counts once per receiver.
        var seenInputs: [UInt16: UInt32] = [:]
    }

    let configuration: BotRunConfiguration
    private var bots: [Bot]
    private var botByPeer: [PeerHandle: Int] = [:]
    private let host: TransportHost
    /// Send time of each (avatar, input sequence), shared by every bot in this process: the sender stamps,
    /// receivers look up. Same host, same monotonic clock.
    private var sendTimes: [UInt16: [UInt64]] = [:]
    private static let sendTimeSlots = 256

    private var rtt = BotRunner.histogram()
    private var rttWindow = BotRunner.histogram()
    private var poseLatency = BotRunner.histogram()
    private var poseWindow = BotRunner.histogram()
    private var connectTime = BotRunner.histogram()
    private var failureReasons: [String: Int] = [:]
    private var snapshotsInWindow: UInt64 = 0
    private var snapshotsTotal: UInt64 = 0
    private var lagWindowMicros: UInt64 = 0
    private var lagMaxMicros: UInt64 = 0
    private var stopRequested: @Sendable () -> Bool

    static func histogram() -> Histogram<UInt64> {
        Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    }

    public init(configuration: BotRunConfiguration, stopRequested: @escaping @Sendable () -> Bool = { false }) throws(TransportError) {
        self.configuration = configuration
        self.stopRequested = stopRequested
        bots = Array(repeating: Bot(), count: configuration.bots)
        host = try TransportHost(bindTo: nil, peerLimit: max(1, configuration.bots), channelLimit: Channel.count)
    }

    /// Runs for the configured duration, calling `progress` once a second. Returns what it measured.
    public func run(progress: (BotProgress) -> Void) -> BotRunResult {
        let start = MonotonicClock.nowMicros()
        let end = start + UInt64(configuration.durationSeconds * 1_000_000)
        let period = UInt64(1_000_000 / max(1, configuration.poseRateHz))
        let count = bots.count
        var joinsStarted = 0
        var sendCursor = 0  // index into the round-robin send schedule
        var nextProgress = start + 1_000_000
        let startStats = host.statistics

        while MonotonicClock.nowMicros() < end && !stopRequested() {
            let now = MonotonicClock.nowMicros()
            // Ramp: start the joins that are due.
            let due = min(count, Int(Double(now - start) / 1_000_000 * configuration.rampPerSecond) + 1)
            while joinsStarted < due {
                startJoin(joinsStarted, now: now)
                joinsStarted += 1
            }
            // Sends: bot i's k-th pose is due at start + k·period + i·period/count (evenly spread).
            if count > 0 {
                while true {
                    let round = UInt64(sendCursor / count)
                    let index = sendCursor % count
                    let dueAt = start + round * period + UInt64(index) * period / UInt64(count)
                    guard dueAt <= now else { break }
                    lagWindowMicros = max(lagWindowMicros, now - dueAt)
                    sendPose(index, now: now, startMicros: start)
                    sendCursor += 1
                }
            }
            host.flush()
            while let event = host.service(timeoutMilliseconds: 1) { handle(event) }
            checkConnectTimeouts(now: MonotonicClock.nowMicros())
            if MonotonicClock.nowMicros() >= nextProgress {
                nextProgress += 1_000_000
                progress(window(elapsed: Double(MonotonicClock.nowMicros() - start) / 1e6))
            }
        }
        let elapsed = Double(MonotonicClock.nowMicros() - start) / 1e6
        let io = host.statistics
        leaveAll()
        let connected = bots.filter(\.connected).count
        let perBot = Double(max(1, connected)) * max(1e-6, elapsed)
        return BotRunResult(
            requested: count, connected: connected, failed: bots.filter(\.failed).count,
            failureReasons: failureReasons, durationSeconds: elapsed,
            rtt: Self.percentiles(rtt, scale: 1000), poseLatency: Self.percentiles(poseLatency, scale: 1000),
            connectTime: Self.percentiles(connectTime, scale: 1000),
            snapshotsPerSecondPerBot: Double(snapshotsTotal) / perBot,
            downBytesPerSecondPerBot: Double(io.bytesReceived - startStats.bytesReceived) / perBot,
            upBytesPerSecondPerBot: Double(io.bytesSent - startStats.bytesSent) / perBot,
            downDatagramsPerSecondPerBot: Double(io.datagramsReceived - startStats.datagramsReceived) / perBot,
            upDatagramsPerSecondPerBot: Double(io.datagramsSent - startStats.datagramsSent) / perBot,
            maxSendLagMillis: Double(lagMaxMicros) / 1000)
    }

    static func percentiles(_ h: Histogram<UInt64>, scale: Double) -> BotRunResult.Percentiles {
        guard h.totalCount > 0 else { return .init(p50: .nan, p99: .nan, max: .nan, count: 0) }
        return .init(
            p50: Double(h.valueAtPercentile(50)) / scale, p99: Double(h.valueAtPercentile(99)) / scale,
            max: Double(h.max) / scale, count: h.totalCount)
    }

    private func window(elapsed: Double) -> BotProgress {
        let connected = bots.reduce(0) { $0 + ($1.connected ? 1 : 0) }
        let p = BotProgress(
            elapsedSeconds: elapsed, connected: connected, failed: bots.reduce(0) { $0 + ($1.failed ? 1 : 0) },
            snapshotsPerSecondPerBot: Double(snapshotsInWindow) / Double(max(1, connected)),
            rttMillisP50: Self.percentiles(rttWindow, scale: 1000).p50,
            rttMillisP99: Self.percentiles(rttWindow, scale: 1000).p99,
            poseLatencyMillisP50: Self.percentiles(poseWindow, scale: 1000).p50,
            poseLatencyMillisP99: Self.percentiles(poseWindow, scale: 1000).p99,
            sendLagMillisMax: Double(lagWindowMicros) / 1000)
        lagMaxMicros = max(lagMaxMicros, lagWindowMicros)
        lagWindowMicros = 0
        snapshotsInWindow = 0
        rttWindow.reset()
        poseWindow.reset()
        return p
    }

    // MARK: bots

    private func startJoin(_ index: Int, now: UInt64) {
        do {
            let peer = try host.connect(to: configuration.server, channelCount: Channel.count)
            bots[index].peer = peer
            bots[index].startedMicros = now
            botByPeer[peer] = index
        } catch {
            fail(index, "connect: \(error.message)")
        }
    }

    private func fail(_ index: Int, _ reason: String) {
        guard !bots[index].failed else { return }
        bots[index].failed = true
        bots[index].connected = false
        failureReasons[reason, default: 0] += 1
    }

    private func checkConnectTimeouts(now: UInt64) {
        let limit = UInt64(configuration.connectTimeoutSeconds * 1_000_000)
        for index in bots.indices where !bots[index].connected && !bots[index].failed && bots[index].peer != nil {
            if now - bots[index].startedMicros > limit {
                if let peer = bots[index].peer { host.disconnectNow(peer, data: 0) }
                fail(index, "timeout: no WELCOME within \(Int(configuration.connectTimeoutSeconds)) s")
            }
        }
    }

    private func sendPose(_ index: Int, now: UInt64, startMicros: UInt64) {
        guard bots[index].connected, let peer = bots[index].peer, var behaviour = bots[index].behaviour else { return }
        let pose = behaviour.pose(at: Double(now - startMicros) / 1e6)
        bots[index].behaviour = behaviour
        guard let bytes = bots[index].session.pose(pose, clientTimeMs: UInt32(truncatingIfNeeded: now / 1000)),
            let avatarId = bots[index].session.avatarId
        else { return }
        let sequence = bots[index].session.inputSequence
        if sendTimes[avatarId] == nil { sendTimes[avatarId] = Array(repeating: 0, count: Self.sendTimeSlots) }
        sendTimes[avatarId]![Int(sequence % UInt32(Self.sendTimeSlots))] = now
        host.send(bytes, to: peer, channel: Channel.state.rawValue, delivery: .unreliable)
        if now - bots[index].lastPingMicros >= 1_000_000 {
            bots[index].lastPingMicros = now
            host.send(bots[index].session.ping(nowMicros: now), to: peer, channel: Channel.state.rawValue, delivery: .unreliable)
        }
    }

    private func handle(_ event: TransportEvent) {
        switch event {
        case .connected(let peer, _):
            guard let index = botByPeer[peer] else { return }
            let name = "\(configuration.namePrefix)-\(index)"
            host.send(
                bots[index].session.hello(worldId: configuration.worldId, displayName: name, role: configuration.role),
                to: peer, channel: Channel.control.rawValue, delivery: .reliable)
        case .disconnected(let peer, let data):
            guard let index = botByPeer.removeValue(forKey: peer) else { return }
            if bots[index].connected || !bots[index].failed {
                let reason = ReasonCode(rawValue: UInt8(clamping: data)) ?? ReasonCode.none
                fail(index, "disconnected: \(reason.name)")
            }
        case .received(let peer, _, let payload):
            guard let index = botByPeer[peer] else { return }
            let now = MonotonicClock.nowMicros()
            let event = bots[index].session.receive(payload, nowMicros: now)
            switch event {
            case .welcomed:
                bots[index].connected = true
                _ = connectTime.record(max(1, now - bots[index].startedMicros))
            case .denied(let deny):
                fail(index, "denied: \(deny.reason.name)")
            case .closing(let closing):
                fail(index, "closed: \(closing.reason.name)")
            case .pong(let rttMicros):
                _ = rtt.record(max(1, rttMicros))
                _ = rttWindow.record(max(1, rttMicros))
            case .snapshot(let snapshot):
                if snapshot.partIndex == 0 {
                    snapshotsInWindow += 1
                    snapshotsTotal += 1
                }
                observe(snapshot, by: index, now: now)
            default:
                break
            }
        }
    }

    /// Pose end-to-end latency: for each avatar whose applied input advanced since this bot last saw it,
    /// the time since that input was sent.
    private func observe(_ snapshot: Snapshot, by index: Int, now: UInt64) {
        let me = bots[index].session.avatarId
        if !bots[index].resynced, let welcome = bots[index].session.welcome,
            let own = snapshot.avatars.first(where: { $0.id == me })
        {
            // First sight of ourselves: start walking from the spawn the server chose.
            bots[index].behaviour = WanderBehaviour(
                bounds: welcome.bounds, start: own.pose.headPosition,
                seed: configuration.seed &+ UInt64(index) &* 0x9E37_79B9)
            bots[index].resynced = true
        }
        var seen = bots[index].seenInputs
        var latencies: [UInt64] = []
        for state in snapshot.avatars where state.id != me && state.lastInputSequence != 0 {
            let previous = seen[state.id] ?? 0
            guard previous == 0 || Int32(bitPattern: state.lastInputSequence &- previous) > 0 else { continue }
            seen[state.id] = state.lastInputSequence
            guard previous != 0, let sent = sendTime(of: state.id, sequence: state.lastInputSequence) else { continue }
            if sent <= now && now - sent < 10_000_000 { latencies.append(now - sent) }
        }
        bots[index].seenInputs = seen
        for latency in latencies {
            _ = poseLatency.record(max(1, latency))
            _ = poseWindow.record(max(1, latency))
        }
    }

    private func sendTime(of avatar: UInt16, sequence: UInt32) -> UInt64? {
        guard let times = sendTimes[avatar] else { return nil }
        let sent = times[Int(sequence % UInt32(Self.sendTimeSlots))]
        return sent == 0 ? nil : sent
    }

    /// Leaves gracefully: ENet counts a peer as gone as soon as the disconnect is queued, so wait for the
    /// acknowledgements (the disconnect events), bounded in time.
    private func leaveAll() {
        var pending = 0
        for bot in bots where bot.connected {
            if let peer = bot.peer {
                host.disconnect(peer, data: UInt32(ReasonCode.none.rawValue))
                pending += 1
            }
        }
        host.flush()
        let deadline = MonotonicClock.nowMicros() + 2_000_000
        while pending > 0 && MonotonicClock.nowMicros() < deadline {
            if case .disconnected = host.service(timeoutMilliseconds: 5) { pending -= 1 }
        }
    }

}
