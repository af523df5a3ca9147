import AtriumBehaviours
import AtriumClient
import AtriumSecurity
import AtriumReport
import AtriumTransport
import AtriumVoice
import AtriumWire
import AtriumWorld

#if canImport(Glibc)
import Glibc
#endif

/// What the server says about itself once a second (from an in-process node or its stats endpoint).
public struct ServerSample: Sendable, Equatable {
    public var tickMillisP50: Double
    public var tickMillisP99: Double
    /// The worker thread's CPU time per tick (p50, p99 of the node's last interval); nil when not reported.
    public var tickCpuMillisP50: Double?
    public var tickCpuMillisP99: Double?
    public var cpuCores: Double
    public var datagramsInPerSecond: Double
    public var datagramsOutPerSecond: Double
    public var tickOverruns: UInt64
    /// Cores the node's voice work (routing, mixing) used; nil when the node does not report it.
    public var voiceCpuCores: Double?
    /// Server-added voice latency over the node's last interval (ms); nil when it relayed no voice or does not
    /// report it.
    public var voiceAddedMs: Percentiles?
    /// The same since the node started, as bucket counts (exact over any window); nil when not reported.
    public var voiceAddedSinceStart: LatencyBuckets?
    /// Totals since the node started: datagrams the kernel dropped at its socket (buffer full), and voice frames
    /// dropped from speakers' queues that outgrew 120 ms (the worker fell behind). nil when not reported.
    public var socketDrops: UInt64?
    public var voiceFramesOverflowed: UInt64?

    public init(
        tickMillisP50: Double, tickMillisP99: Double, cpuCores: Double, datagramsInPerSecond: Double,
        datagramsOutPerSecond: Double, tickOverruns: UInt64, voiceCpuCores: Double? = nil,
        voiceAddedMs: Percentiles? = nil, voiceAddedSinceStart: LatencyBuckets? = nil, socketDrops: UInt64? = nil,
        voiceFramesOverflowed: UInt64? = nil, tickCpuMillisP50: Double? = nil, tickCpuMillisP99: Double? = nil
    ) {
        self.tickMillisP50 = tickMillisP50
        self.tickMillisP99 = tickMillisP99
        self.cpuCores = cpuCores
        self.datagramsInPerSecond = datagramsInPerSecond
        self.datagramsOutPerSecond = datagramsOutPerSecond
        self.tickOverruns = tickOverruns
        self.voiceCpuCores = voiceCpuCores
        self.voiceAddedMs = voiceAddedMs
        self.voiceAddedSinceStart = voiceAddedSinceStart
        self.socketDrops = socketDrops
        self.voiceFramesOverflowed = voiceFramesOverflowed
        self.tickCpuMillisP50 = tickCpuMillisP50
        self.tickCpuMillisP99 = tickCpuMillisP99
    }
}

/// The once-a-second figures, for the live progress line.
public struct LiveProgress: Sendable {
    public var elapsedSeconds: Double
    public var durationSeconds: Double
    public var connected: Int
    public var failed: Int
    public var point: TimelinePoint
    public var snapshotsPerSecondPerBot: Double
    public var saturated: Bool

    public var line: String {
        func f(_ v: Double?) -> String { v.map { Fmt.fixed($0, 1) } ?? Fmt.missing }
        var text = "[\(Int(elapsedSeconds))/\(Int(durationSeconds))s] bots \(connected) up"
        if failed > 0 { text += ", \(failed) failed" }
        text += " | snap/s \(Fmt.fixed(snapshotsPerSecondPerBot, 1)) | rtt ms \(f(point.rttP50))/\(f(point.rttP99))"
        text += " | pose ms \(f(point.poseP50))/\(f(point.poseP99))"
        if point.voiceP99 != nil { text += " | voice ms \(f(point.voiceP50))/\(f(point.voiceP99))" }
        text += " | kbps ↓\(f(point.downKbpsPerBot)) ↑\(f(point.upKbpsPerBot))"
        if let tick = point.serverTickP99 { text += " | server tick p99 \(f(tick)) ms cpu \(f(point.serverCpuCores))" }
        if saturated { text += " | BOT SATURATED" }
        return text
    }
}

/// Drives a scenario's bots from one thread over a few ENet hosts (no thread per bot, no per-bot logging)
/// and measures what they see. The caller supplies the world (for behaviours) and, when it can, a source
/// of server statistics.
public final class LoadRunner {
    /// One bot's state. Kept small: thousands live in one array.
    struct Bot {
        var session = ClientSession()
        /// The sealed session, from the bot's join ticket.
        var channel: SecureChannel?
        var peer: PeerHandle?
        var host = 0
        var behaviour: BotBehaviour?
        let kind: BehaviourKind
        let kindIndex: Int
        let kindCount: Int
        /// Decodes every snapshot (latency, pose bytes, gaps); the others acknowledge from headers.
        let measuring: Bool
        var connected = false
        var failed = false
        var startedMicros: UInt64 = 0
        var joinedMicros: UInt64 = 0
        var lastPingMicros: UInt64 = 0
        var bytesDown: UInt64 = 0
        var bytesUp: UInt64 = 0
        var lastSnapshot: UInt32 = 0
        /// Newest input sequence seen per avatar (`AvatarTable`; 0 = none yet), measuring bots only.
        var seenInputs = AvatarTable<UInt32>(empty: 0)
        /// The behaviour's talking flag at the last pose: while set, the bot sends a VOICE every frame slot.
        var talking = false
        /// Asks for the server's mix (VOICE_SETUP mix) right after HELLO.
        var mixListener = false
        /// The last VOICE_MODE the server sent.
        var voiceMode: VoiceModeGrant?
        /// Head position of the last pose sent (where the bot is, for the broadcast-reach rules).
        var head: Vec3?
    }

    public let scenario: Scenario
    let world: WorldDefinition
    let serverStats: (@Sendable () -> ServerSample?)?
    let stopRequested: @Sendable () -> Bool
    private let tickets: TicketPipeline
    private var bots: [Bot] = []
    private var hosts: [TransportHost] = []
    private var botByPeer: [PeerTable] = []
    /// Per host: the cookie step's client (PROTOCOL.md §18.8), when to re-ask, since when it has been waiting.
    private var cookieClients: [ConnectCookieClient] = []
    private var cookieState: [(nextRequest: UInt64, waitingSince: UInt64?)] = []
    private var serverEndpoint: IPv4Endpoint?
    /// Bots whose join started and that are neither welcomed nor failed yet (the connect time-out's list).
    private var joining: [Int] = []
    /// Send times of each avatar's recent inputs, shared by every bot here (same process, same clock).
    private var sendTimes = InputSendTimes()
    static let peersPerHost = 1000
    /// One host's socket receives a whole server tick's burst for up to `peersPerHost` bots at once: 8 MiB
    /// holds about 3,600 snapshot datagrams (the kernel charges ~2.3 KB each), ~100 ms at 1,000 bots — a
    /// burst fits, while a tool that falls behind drops rather than queueing seconds of stale data.
    static let socketBufferBytes = 8 * 1024 * 1024

    private var rtt = LatencyRecorder()
    private var poseLatency = LatencyRecorder()
    private var connectTime = LatencyRecorder()
    private var failureReasons: [String: Int] = [:]
    private var snapshotsThisSecond: UInt64 = 0
    private var snapshotsTotal: UInt64 = 0
    private var measuredSnapshots: UInt64 = 0
    private var snapshotGaps: UInt64 = 0
    private var fullPoseBits: UInt64 = 0
    private var fullPoseCount: UInt64 = 0
    private var deltaPoseBits: UInt64 = 0
    private var deltaPoseCount: UInt64 = 0
    private var deltaSpanInputs: UInt64 = 0
    private var deltaSpanCount: UInt64 = 0
    private var timeline: [TimelinePoint] = []
    private var serverSamples: [ServerSample] = []
    private var sendLagMicros: UInt64 = 0
    private var saturationSeconds: (lag: Int, cpu: Int) = (0, 0)
    private var saturationReasons: Set<String> = []
    private var notes: [String] = []

    // Voice (PROTOCOL.md §17)
    /// The run's VOICE messages, one per frame of the shared `VoiceLoop`, with sequence 0 (patched per send).
    private var voiceMessages: [[UInt8]] = []
    private var voiceFrameMicros: UInt64 = 20_000
    private var voiceSendTimes = VoiceSendTimes()
    /// Per bot: its ears, for bots that measure voice (measuring bots and mix listeners).
    private var voiceListeners: [VoiceListener?] = []
    private var voiceListenerIndices: [Int] = []
    private var voiceLatency = LatencyRecorder()
    private var voiceFramesSent: UInt64 = 0
    private var voiceSpeakers: Set<Int> = []
    /// Frames in VOICE_BUNDLEs to any bot (the ones that do not measure only count them).
    private var voiceFramesDelivered: UInt64 = 0
    private var voiceBundlesMalformed: UInt64 = 0
    /// Who should hear each broadcast talk spurt, and who did.
    private var reach = BroadcastReachTracker()
    /// The world's zones as the server classifies them (the broadcast rules).
    private let interest: InterestContext
    /// Bot i's frame k is loop[i · stride + k]: bots talking at once say different things.
    static let voiceLoopStride = 97
    /// Connected time of bots that have since failed, so per-bot rates divide by real bot-seconds.
    private var connectedMicrosOfGoneBots: UInt64 = 0

    /// - Parameter tickets: where each bot's join ticket comes from (the node's keyring or its join endpoint).
    public init(
        scenario: Scenario, world: WorldDefinition, tickets: TicketSource,
        serverStats: (@Sendable () -> ServerSample?)? = nil, stopRequested: @escaping @Sendable () -> Bool = { false }
    ) throws(TransportError) {
        self.scenario = scenario
        // Five seconds of joins ahead (tokens open for a minute after issue).
        self.tickets = TicketPipeline(source: tickets, lookahead: max(20, Int(scenario.rampPerSecond * 5)))
        self.world = world
        interest = InterestContext(world: world)
        self.serverStats = serverStats
        self.stopRequested = stopRequested
        let assignment = BehaviourMix.assign(
            botCount: scenario.bots, shares: scenario.behaviours.map { (kind: $0.kind, weight: $0.weight) })
        // Measuring bots are spread evenly over the run's bots so they see every behaviour and instance.
        let measuring = min(scenario.measuringBots, scenario.bots)
        let stride = measuring > 0 ? Double(scenario.bots) / Double(measuring) : .infinity
        let mix = Self.spread(scenario.voiceMixListeners, over: scenario.bots)
        bots = assignment.enumerated().map { index, slot in
            let isMeasuring = measuring > 0 && Int(Double(Int(Double(index) / stride)) * stride) == index
            var bot = Bot(kind: slot.kind, kindIndex: slot.kindIndex, kindCount: slot.kindCount, measuring: isMeasuring)
            bot.mixListener = mix.contains(index)
            // Bots measure from the decoded entries and draw nobody: no interpolation buffers to feed.
            bot.session.tracksAvatarMotion = false
            return bot
        }
        voiceListeners = bots.map { $0.measuring || $0.mixListener ? VoiceListener() : nil }
        voiceListenerIndices = voiceListeners.indices.filter { voiceListeners[$0] != nil }
        // One loop of synthetic speech for the whole run, encoded once: 10 s of 20 ms frames at 24 kbit/s.
        do {
            let loop = try VoiceLoop(seed: scenario.seed, seconds: 10, frameMilliseconds: 20, bitrate: 24_000)
            voiceFrameMicros = UInt64(loop.frameMilliseconds) * 1000
            voiceMessages = loop.frames.map {
                ClientMessage.voice(VoiceFrame(sequence: 0, level: VoiceLevel(rawValue: $0.level), opus: $0.opus))
                    .encode(codec: nil)
            }
        } catch {
            notes.append("voice disabled: the Opus loop could not be encoded (\(error))")
        }
        let hostCount = max(1, (scenario.bots + Self.peersPerHost - 1) / Self.peersPerHost)
        for _ in 0..<hostCount {
            let host = try TransportHost(
                bindTo: nil, peerLimit: min(Self.peersPerHost, max(1, scenario.bots)), channelLimit: Channel.count,
                limits: TransportLimits(socketBufferBytes: Self.socketBufferBytes))
            if let impairment = scenario.impairment { host.setImpairment(impairment) }
            // Catches the server's cookie replies on this host's socket (one cookie serves all its bots).
            let cookies = ConnectCookieClient()
            host.setInboundFilter(cookies)
            cookieClients.append(cookies)
            cookieState.append((nextRequest: 0, waitingSince: nil))
            let got = host.socketBufferBytes.receive
            if got < Self.socketBufferBytes, hosts.isEmpty {
                notes.append(
                    "bot socket receive buffer is \(got) bytes (asked \(Self.socketBufferBytes)): with many bots the "
                        + "kernel may drop snapshots; raise net.core.rmem_max or run as root")
            }
            hosts.append(host)
            botByPeer.append(PeerTable())
        }
    }

    /// `count` bot indices spread evenly over `total`, half a stride off the measuring bots' positions.
    static func spread(_ count: Int, over total: Int) -> Set<Int> {
        guard count > 0, total > 0 else { return [] }
        let n = min(count, total)
        let stride = Double(total) / Double(n)
        return Set((0..<n).map { min(total - 1, Int((Double($0) + 0.5) * stride)) })
    }

    private var connectedCount: Int { bots.reduce(0) { $0 + ($1.connected ? 1 : 0) } }
    private var failedCount: Int { bots.reduce(0) { $0 + ($1.failed ? 1 : 0) } }

    // MARK: the loop

    /// Runs the scenario (or until `stopRequested`), calling `progress` once a second, and returns the report
    /// (SLOs not yet evaluated; `LoadReport.finish(scenario:)` does that).
    public func run(startedAt: String, progress: (LiveProgress) -> Void) -> LoadReport {
        let start = MonotonicClock.nowMicros()
        let end = start + UInt64(scenario.durationSeconds * 1_000_000)
        let period = UInt64(1_000_000 / scenario.poseRateHz)
        let count = bots.count
        var joinsStarted = 0
        var sendCursor = 0
        var voiceCursor = 0
        var nextPlayout = start + voiceFrameMicros
        var nextSecond = start + 1_000_000
        var window = WindowStart(micros: start, hosts: hosts.map(\.statistics), cpu: MonotonicClock.threadCPUSeconds())
        var interrupted = false
        let names = bots.map { (role: $0.kind.role, name: "\(scenario.name)-") }
        let world = scenario.world
        tickets.start(count: count) { index in
            (userId: "bot-\(index)", displayName: names[index].name + "\(index)", role: names[index].role, world: world)
        }
        defer { tickets.stop() }

        while true {
            let now = MonotonicClock.nowMicros()
            if now >= end { break }
            if stopRequested() {
                interrupted = true
                break
            }
            let due = min(count, Int(Double(now - start) / 1_000_000 * scenario.rampPerSecond) + 1)
            while joinsStarted < due {
                let hostIndex = joinsStarted / Self.peersPerHost
                guard let cookie = connectCookie(host: hostIndex, now: now) else {
                    // No cookie yet: the bot waits, and fails once the connect timeout has passed.
                    if let since = cookieState[hostIndex].waitingSince,
                        Double(now - since) / 1e6 > scenario.connectTimeoutSeconds
                    {
                        fail(joinsStarted, "no connect cookie from the server")
                        joinsStarted += 1
                        continue
                    }
                    break
                }
                guard let ticket = tickets.take(joinsStarted) else { break }
                switch ticket {
                case .success(let ticket): startJoin(joinsStarted, ticket: ticket, cookie: cookie, now: now)
                case .failure(let error): fail(joinsStarted, "ticket: \(error.description)")
                }
                joinsStarted += 1
            }
            // Bot i's k-th pose is due at start + k·period + i·period/N: evenly spread, so the lag behind
            // this schedule measures the tool's own saturation.
            while count > 0 {
                let round = UInt64(sendCursor / count)
                let index = sendCursor % count
                let dueAt = start + round * period + UInt64(index) * period / UInt64(count)
                guard dueAt <= now else { break }
                sendLagMicros = max(sendLagMicros, now - dueAt)
                sendPose(index, now: now, runSeconds: Double(now - start) / 1e6)
                sendCursor += 1
            }
            // Voice on its own schedule: bot i's frame slot k is due at start + k·frame + i·frame/N. The slot
            // counter is the VOICE sequence, so it advances through silences (PROTOCOL.md §17.1).
            while count > 0 && !voiceMessages.isEmpty {
                let slot = UInt64(voiceCursor / count)
                let index = voiceCursor % count
                let dueAt = start + slot * voiceFrameMicros + UInt64(index) * voiceFrameMicros / UInt64(count)
                guard dueAt <= now else { break }
                if bots[index].talking {
                    sendLagMicros = max(sendLagMicros, now - dueAt)
                    sendVoice(index, slot: slot, now: now)
                }
                voiceCursor += 1
            }
            for host in hosts { host.flush() }
            var handled = 0
            for (hostIndex, host) in hosts.enumerated() {
                while host.poll({ handle($0, host: hostIndex) }) { handled += 1 }
            }
            let after = MonotonicClock.nowMicros()
            if after >= nextPlayout {
                nextPlayout += voiceFrameMicros
                playOutVoice(at: after)
            }
            checkConnectTimeouts(now: after)
            if after >= nextSecond {
                nextSecond += 1_000_000
                let point = closeSecond(at: after, start: start, window: &window, period: period)
                progress(
                    LiveProgress(
                        elapsedSeconds: Double(after - start) / 1e6, durationSeconds: scenario.durationSeconds,
                        connected: point.connected, failed: failedCount, point: point,
                        snapshotsPerSecondPerBot: Double(snapshotsThisSecond) / Double(max(1, point.connected)),
                        saturated: !saturationReasons.isEmpty))
                snapshotsThisSecond = 0
                if abortIfUnreachable(now: after, start: start) { break }
            }
            if handled == 0 {
                // Nothing arrived: sleep until the next send is due, at most a millisecond.
                MonotonicClock.sleep(micros: 500)
            }
        }
        playOutVoice(at: MonotonicClock.nowMicros())
        let elapsed = Double(MonotonicClock.nowMicros() - start) / 1e6
        if interrupted { notes.append("interrupted after \(Int(elapsed)) s; figures cover the partial run") }
        let report = makeReport(elapsedSeconds: elapsed, startedAt: startedAt)
        leaveAll()
        return report
    }

    /// An unreachable server: nobody connected and every attempt so far failed.
    private func abortIfUnreachable(now: UInt64, start: UInt64) -> Bool {
        let attempted = bots.filter { $0.peer != nil || $0.failed }.count
        guard connectedCount == 0, attempted > 0, failedCount == attempted,
            Double(now - start) / 1e6 >= scenario.connectTimeoutSeconds
        else { return false }
        notes.append("no bot could connect to the server within \(Int(scenario.connectTimeoutSeconds)) s; run stopped")
        return true
    }

    /// Server-added voice latency over the steady part of the run (samples from `steadyFrom` on): every frame
    /// copy the node counted between the sample before the window and the last one, from its cumulative
    /// buckets. A node without them: the median of the per-second p50s, the 99th percentile of the per-second
    /// p99s, the largest max.
    static func voiceAdded(samples: [ServerSample], steadyFrom start: Int) -> Percentiles {
        let first = max(0, min(start, samples.count))
        if let last = samples.last?.voiceAddedSinceStart {
            let before = first > 0 ? samples[first - 1].voiceAddedSinceStart : nil
            if let window = last.since(before), window.total > 0 { return window.percentiles }
        }
        let added = samples[first...].compactMap(\.voiceAddedMs)
        guard !added.isEmpty else { return Percentiles() }
        return Percentiles(
            p50: percentile(added.compactMap(\.p50), 50), p99: percentile(added.compactMap(\.p99), 99),
            max: added.compactMap(\.max).max())
    }

    // MARK: per-second windows

    struct WindowStart {
        var micros: UInt64
        var hosts: [HostStatistics]
        var cpu: Double
    }

    private func closeSecond(at now: UInt64, start: UInt64, window: inout WindowStart, period: UInt64) -> TimelinePoint {
        let seconds = Double(now - window.micros) / 1e6
        let io = hosts.map(\.statistics)
        let down = zip(io, window.hosts).reduce(0) { $0 + Double($1.0.bytesReceived - $1.1.bytesReceived) }
        let up = zip(io, window.hosts).reduce(0) { $0 + Double($1.0.bytesSent - $1.1.bytesSent) }
        let cpu = MonotonicClock.threadCPUSeconds()
        let botCPU = (cpu - window.cpu) / seconds
        window = WindowStart(micros: now, hosts: io, cpu: cpu)
        let connected = connectedCount
        let perBot = Double(max(1, connected)) * seconds
        let rttWindow = rtt.closeWindow()
        let poseWindow = poseLatency.closeWindow()
        let voiceWindow = voiceLatency.closeWindow()
        var point = TimelinePoint(
            t: Double(now - start) / 1e6, connected: connected, rttP50: rttWindow.p50, rttP99: rttWindow.p99,
            poseP50: poseWindow.p50, poseP99: poseWindow.p99, voiceP50: voiceWindow.p50, voiceP99: voiceWindow.p99,
            downKbpsPerBot: connected > 0 ? down * 8 / 1000 / perBot : nil,
            upKbpsPerBot: connected > 0 ? up * 8 / 1000 / perBot : nil,
            botSendLagMs: Double(sendLagMicros) / 1000, botCpuCores: botCPU)
        if let sample = serverStats?() {
            serverSamples.append(sample)
            point.serverTickP50 = sample.tickMillisP50
            point.serverTickP99 = sample.tickMillisP99
            point.serverCpuCores = sample.cpuCores
        }
        // Saturation: the send loop more than two pose periods behind, or this thread using a whole core,
        // for three seconds in a row; or one stall of the send loop long enough (a quarter second, at least
        // eight pose periods) that every bot's latency figures for it are the machine's, not the server's.
        saturationSeconds.lag = sendLagMicros > 2 * period ? saturationSeconds.lag + 1 : 0
        saturationSeconds.cpu = botCPU > 0.95 ? saturationSeconds.cpu + 1 : 0
        if saturationSeconds.lag >= 3 {
            saturationReasons.insert("send loop fell more than two pose periods behind schedule for 3 s")
        }
        if saturationSeconds.cpu >= 3 { saturationReasons.insert("the bot thread used a whole core for 3 s") }
        if sendLagMicros > max(250_000, 8 * period) {
            saturationReasons.insert("send loop stalled for more than a quarter second (eight pose periods at least)")
        }
        sendLagMicros = 0
        timeline.append(point)
        return point
    }

    // MARK: bots

    /// The host's valid cookie for the server, or nil while one is being asked for (the request goes out from
    /// the host's own socket every 250 ms; the reply is caught by the host's filter during polling).
    private func connectCookie(host index: Int, now: UInt64) -> UInt32? {
        if serverEndpoint == nil { serverEndpoint = try? IPv4Endpoint(resolving: serverAddress) }
        guard let endpoint = serverEndpoint else { return nil }
        if let cookie = cookieClients[index].cookie(for: endpoint, nowMicros: now) {
            cookieState[index].waitingSince = nil
            return cookie
        }
        if now >= cookieState[index].nextRequest {
            _ = hosts[index].sendRaw(cookieClients[index].request(for: endpoint), to: endpoint)
            cookieState[index].nextRequest = now + 250_000
            if cookieState[index].waitingSince == nil { cookieState[index].waitingSince = now }
        }
        return nil
    }

    private func startJoin(_ index: Int, ticket: JoinTicket, cookie: UInt32, now: UInt64) {
        let hostIndex = index / Self.peersPerHost
        do {
            let peer = try hosts[hostIndex].connect(to: serverAddress, channelCount: Channel.count, data: cookie)
            bots[index].peer = peer
            bots[index].channel = SecureChannel(ticket: ticket)
            bots[index].host = hostIndex
            bots[index].startedMicros = now
            botByPeer[hostIndex][peer] = index
            joining.append(index)
        } catch {
            fail(index, "connect: \(error.message)")
        }
    }

    /// Set by the caller for local targets, which learn their port only when the node starts.
    public var serverAddress = TransportAddress(host: "127.0.0.1", port: 7777)

    private func fail(_ index: Int, _ reason: String) {
        guard !bots[index].failed else { return }
        if bots[index].connected { connectedMicrosOfGoneBots += MonotonicClock.nowMicros() - bots[index].joinedMicros }
        bots[index].failed = true
        bots[index].connected = false
        reach.speakerLeft(index)
        failureReasons[reason, default: 0] += 1
    }

    /// Runs every loop pass, so it looks only at the bots still joining, not at every bot.
    private func checkConnectTimeouts(now: UInt64) {
        guard !joining.isEmpty else { return }
        let limit = UInt64(scenario.connectTimeoutSeconds * 1_000_000)
        joining.removeAll { index in
            if bots[index].connected || bots[index].failed { return true }
            guard let peer = bots[index].peer, now - bots[index].startedMicros > limit else { return false }
            hosts[bots[index].host].disconnectNow(peer, data: 0)
            botByPeer[bots[index].host][peer] = nil
            fail(index, "no WELCOME within \(Fmt.fixed(scenario.connectTimeoutSeconds, 1)) s")
            return true
        }
    }

    /// Seals `bytes` with the bot's session and sends them; the bytes counted are those on the wire.
    private func send(_ bytes: [UInt8], from index: Int, channel: Channel) {
        bytes.withUnsafeBytes { send($0, from: index, channel: channel) }
    }

    /// The same from borrowed bytes, sealed straight into the ENet packet (no sealed copy per datagram).
    private func send(_ message: UnsafeRawBufferPointer, from index: Int, channel: Channel) {
        guard let peer = bots[index].peer, bots[index].channel != nil else { return }
        let count = SecureChannel.overhead + message.count
        var sealed = true
        hosts[bots[index].host].send(
            count: count, to: peer, channel: channel.rawValue, delivery: .forAtriumChannel(channel.rawValue)
        ) { datagram in
            sealed = bots[index].channel!.seal(message, channel: channel, into: datagram)
            return sealed
        }
        // Counted as before: whatever was sealed for the wire (also when ENet refused it).
        if sealed { bots[index].bytesUp += UInt64(count) }
    }

    private func sendPose(_ index: Int, now: UInt64, runSeconds: Double) {
        guard bots[index].connected, bots[index].behaviour != nil else { return }
        // Stepped in place: a copy taken out of the bot would copy the behaviour's buffers on every write.
        let intent = bots[index].behaviour!.step(at: runSeconds)
        bots[index].talking = intent.talking
        bots[index].head = intent.pose.headPosition
        if let id = bots[index].session.avatarId, intent.talking || reach.isOpen(index) {
            let zone = intent.talking ? interest.zoneContext(position: intent.pose.headPosition, role: bots[index].kind.role) : nil
            reach.speaker(index, id: id, talking: intent.talking, zone: zone, now: now) { reachListeners() }
        }
        guard let bytes = bots[index].session.pose(intent.pose, clientTimeMs: UInt32(truncatingIfNeeded: now / 1000)),
            let avatarId = bots[index].session.avatarId
        else { return }
        sendTimes.record(avatar: avatarId, sequence: bots[index].session.inputSequence, at: now)
        send(bytes, from: index, channel: .state)
        if now - bots[index].lastPingMicros >= 1_000_000 {
            bots[index].lastPingMicros = now
            send(bots[index].session.ping(nowMicros: now), from: index, channel: .state)
        }
    }

    // MARK: voice

    /// Sends frame slot `slot` of a talking bot: a frame of the shared loop (each bot at its own place in it),
    /// its sequence being the bot's slot counter from a per-bot origin (so sequences wrap at different times).
    private func sendVoice(_ index: Int, slot: UInt64, now: UInt64) {
        guard bots[index].connected, let speaker = bots[index].session.avatarId else { return }
        let sequence = UInt16(truncatingIfNeeded: slot &+ UInt64(index) &* 7919)
        let message = voiceMessages[(index * Self.voiceLoopStride + Int(slot)) % voiceMessages.count]
        voiceSendTimes.record(speaker: speaker, sequence: sequence, at: now)
        // VOICE's level byte (offset 3): bit 7 is voice activity, which is what the server routes by.
        reach.sent(bot: index, sequence: sequence, voiced: message[3] & 0x80 != 0)
        // Patched in a scratch copy on the stack, not a fresh array per frame.
        message.withUnsafeBytes { frame in
            withUnsafeTemporaryAllocation(byteCount: frame.count, alignment: 1) { patched in
                patched.copyMemory(from: frame)
                // VOICE layout (PROTOCOL.md §17.2): the u16 sequence is little-endian at offset 1.
                patched[1] = UInt8(truncatingIfNeeded: sequence)
                patched[2] = UInt8(truncatingIfNeeded: sequence >> 8)
                send(UnsafeRawBufferPointer(patched), from: index, channel: .voice)
            }
        }
        voiceFramesSent += 1
        voiceSpeakers.insert(index)
    }

    /// A VOICE_BUNDLE: bots that measure voice feed their jitter buffers and time the frames; the others only
    /// count them (walking the bundle in place, no copies).
    private func receiveVoice(_ payload: [UInt8], by index: Int, now: UInt64) {
        guard voiceListeners[index] != nil else {
            if let count = VoiceBundleScan.validFrameCount(payload) {
                voiceFramesDelivered += UInt64(count)
            } else {
                voiceBundlesMalformed += 1
            }
            return
        }
        guard let frames = VoiceBundleScan.frames(payload) else {
            voiceBundlesMalformed += 1
            return
        }
        voiceFramesDelivered += UInt64(frames.count)
        if reach.isTracking {
            for frame in frames { reach.heard(listener: index, speaker: frame.speakerId, sequence: frame.sequence) }
        }
        voiceListeners[index]?.receive(frames, at: now, sendTimes: voiceSendTimes) { voiceLatency.record(micros: $0) }
    }

    /// Plays the listeners' jitter buffers out to `now`: slots that passed without their frame count as lost.
    /// Judges the broadcast spurts whose frames have had time to arrive.
    private func playOutVoice(at now: UInt64) {
        for index in voiceListenerIndices { voiceListeners[index]?.advance(to: now) }
        reach.advance(now: now)
    }

    /// The listeners broadcast reach is judged over: connected measuring bots in relay mode whose position is
    /// known (a mix listener's stream does not name speakers).
    private func reachListeners() -> [BroadcastReachTracker.Listener] {
        voiceListenerIndices.compactMap { i in
            let bot = bots[i]
            guard bot.connected, let head = bot.head, !bot.mixListener || bot.voiceMode?.mode == .relay else { return nil }
            return BroadcastReachTracker.Listener(bot: i, zone: interest.zoneContext(position: head, role: bot.kind.role))
        }
    }

    /// The voice figures of the report; nil fields mean not measured (no bot talked, or none measured voice).
    private func addVoiceFigures(to report: inout LoadReport) {
        let listeners = voiceListeners.compactMap { $0 }
        let totals = listeners.reduce(VoiceFrameTotals()) { $0 + $1.totals }
        report.voiceLatencyMs = voiceLatency.totalMillis
        if voiceFramesSent > 0 || totals.streams > 0 {
            notes.append(
                "voice: \(voiceSpeakers.count) bots talked, sending \(voiceFramesSent) VOICE frames; "
                    + "\(voiceFramesDelivered) frames reached bots in VOICE_BUNDLEs")
        }
        if voiceBundlesMalformed > 0 { notes.append("voice: \(voiceBundlesMalformed) malformed VOICE_BUNDLEs dropped") }
        if !listeners.isEmpty && (voiceFramesSent > 0 || totals.streams > 0) {
            report.voiceFramesReceived = Double(totals.received)
            report.voiceFramesLate = Double(totals.late)
            report.voiceFramesLost = Double(totals.lost)
            report.voiceGaps = Double(totals.gaps)
            report.voiceLongestGapFrames = Double(totals.longestGap)
            report.voiceLossPercent = totals.lossPercent
            report.voiceStreamsPerListenerMax = Double(listeners.map(\.window.maxStreams).max() ?? 0)
            if totals.streams == 0 {
                notes.append("voice: bots talked but no VOICE_BUNDLE came back (does the server route voice?)")
            } else {
                notes.append(
                    "voice: \(listeners.count) listeners measured \(totals.streams) streams; \(totals.skipped) slots "
                        + "passed as pauses between talk spurts or as not sent (a loss burst longer than the playout "
                        + "slack counts there, not as lost); \(totals.resumes) gaps were the server's routing (frames "
                        + "marked resumes), not loss")
            }
        }
        addBroadcastReach(to: &report)
        let mix = bots.filter(\.mixListener)
        if !mix.isEmpty {
            let granted = mix.filter { $0.voiceMode?.mode == .mix }.count
            var relay: [String: Int] = [:]
            for bot in mix { if let grant = bot.voiceMode, grant.mode == .relay { relay[grant.reason.name, default: 0] += 1 } }
            let unanswered = mix.filter { $0.voiceMode == nil }.count
            let reasons = relay.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            notes.append(
                "voice mix: \(mix.count) bots asked for mix: \(granted) granted, "
                    + "\(relay.values.reduce(0, +)) got relay\(reasons.isEmpty ? "" : " (\(reasons))"), "
                    + "\(unanswered) had no VOICE_MODE")
            let mixed = listeners.reduce(0) { $0 + $1.mixedFrames }
            notes.append(
                "voice mix: \(mixed) mixed frames (speaker 0) received; the mixed stream counts in frames received/"
                    + "lost and streams per listener, not in voice latency (it carries the mix's own sequence)")
        }
    }

    /// Broadcast reach over the run's judged spurts (`BroadcastReachTracker`); nil when none was judged.
    private func addBroadcastReach(to report: inout LoadReport) {
        reach.finish(now: MonotonicClock.nowMicros(), listeners: reachListeners())
        report.voiceBroadcastReachMinPercent = reach.minimum
        report.voiceBroadcastReachMeanPercent = reach.mean
        guard !reach.reachPercents.isEmpty || reach.spurtsLeftOut > 0 else { return }
        var text =
            "voice reach: \(reach.reachPercents.count) broadcast talk spurts judged (\(reach.worldSpurts) world, "
            + "\(reach.zoneSpurts) zone) over measuring relay listeners in reach; \(reach.spurtsLeftOut) left out "
            + "(no voiced frame, nobody in reach, speaker left, or too short at the end)"
        if let range = reach.eligibleRange { text += "; \(range.lowerBound)–\(range.upperBound) listeners per spurt" }
        if let lowest = reach.lowest, lowest.reached < lowest.eligible {
            text += "; lowest: a \(lowest.reach.rawValue) broadcast of \(Fmt.fixed(lowest.seconds, 1)) s and "
                + "\(lowest.frames) frames heard by \(lowest.reached) of \(lowest.eligible)"
        }
        notes.append(text)
    }

    /// Every bot's received messages are opened into this one array (its capacity reused), straight from ENet's
    /// packet: the tool receives tens of thousands of datagrams a second.
    private var plaintext: [UInt8] = []

    private func handle(_ event: LentTransportEvent, host: Int) {
        switch event {
        case .connected(let peer, _):
            guard let index = botByPeer[host][peer], let token = bots[index].channel?.tokenPacket else { return }
            // The connect token first, as is; then the sealed HELLO (PROTOCOL.md §18).
            hosts[host].send(token, to: peer, channel: Channel.control.rawValue, delivery: .reliable)
            bots[index].bytesUp += UInt64(token.count)
            let hello = bots[index].session.hello(
                worldId: scenario.world, displayName: "\(scenario.name)-\(index)", role: bots[index].kind.role)
            send(hello, from: index, channel: .control)
            if bots[index].mixListener {
                send(ClientMessage.voiceSetup(VoiceSetup(requestedMode: .mix)).encode(codec: nil), from: index, channel: .control)
            }
        case .disconnected(let peer, let data):
            guard let index = botByPeer[host].removeValue(forKey: peer) else { return }
            // ENet reports its own time-outs as a disconnect with data 0; the server always sends a reason.
            let reason = ReasonCode(disconnectData: data) ?? ReasonCode.none
            fail(index, reason == .none ? "connection lost (ENet time-out)" : "disconnected by server: \(reason.name)")
        case .received(let peer, let channel, let datagram):
            guard let index = botByPeer[host][peer] else { return }
            bots[index].bytesDown += UInt64(datagram.count)
            guard bots[index].channel?.open(datagram, channel: channel, into: &plaintext) == true else { return }
            receive(plaintext, by: index)
        }
    }

    private func receive(_ payload: [UInt8], by index: Int) {
        let now = MonotonicClock.nowMicros()
        if payload.first == MessageType.voiceBundle.rawValue {
            receiveVoice(payload, by: index, now: now)
            return
        }
        // Until a bot knows where it spawned it decodes everything; then only measuring bots do.
        let full = bots[index].measuring || bots[index].behaviour == nil
        let event =
            full
            ? bots[index].session.receive(payload, nowMicros: now)
            : bots[index].session.receiveHeaderOnly(payload, nowMicros: now)
        switch event {
        case .welcomed:
            bots[index].connected = true
            bots[index].joinedMicros = now
            connectTime.record(micros: now - bots[index].startedMicros)
        case .denied(let deny):
            fail(index, "denied: \(deny.reason.name)")
        case .closing(let closing):
            fail(index, "closed by server: \(closing.reason.name)")
        case .pong(let roundTrip):
            rtt.record(micros: roundTrip)
        case .snapshot(let update):
            countSnapshot(update.header.sequence, partIndex: update.header.partIndex, by: index)
            observe(update, by: index, now: now)
        case .snapshotHeader(let sequence, let partIndex):
            countSnapshot(sequence, partIndex: partIndex, by: index)
        case .voiceMode(let grant):
            bots[index].voiceMode = grant
        default:
            break
        }
    }

    private func countSnapshot(_ sequence: UInt32, partIndex: UInt8, by index: Int) {
        guard partIndex == 0 else { return }
        snapshotsThisSecond += 1
        snapshotsTotal += 1
        guard bots[index].measuring else { return }
        measuredSnapshots += 1
        let last = bots[index].lastSnapshot
        if last != 0 {
            let step = Int32(bitPattern: sequence &- last)
            if step > 1 { snapshotGaps += UInt64(step - 1) }
        }
        if last == 0 || Int32(bitPattern: sequence &- last) > 0 { bots[index].lastSnapshot = sequence }
    }

    /// Starts the bot's behaviour from its spawn; measures pose latency and pose sizes.
    private func observe(_ update: SnapshotUpdate, by index: Int, now: UInt64) {
        let me = bots[index].session.avatarId
        if bots[index].behaviour == nil, let codec = bots[index].session.codec,
            let own = update.entries.lazy.compactMap(\.state).first(where: { $0.id == me })
        {
            let bot = bots[index]
            let context = BotContext(
                world: world, botIndex: index, botCount: bots.count, kindIndex: bot.kindIndex,
                kindCount: bot.kindCount, seed: scenario.seed, voiceDutyCycle: scenario.voiceDutyCycle)
            bots[index].behaviour = BotBehaviour(
                kind: bot.kind, context: context, start: codec.dequantize(own.pose).headPosition)
        }
        guard bots[index].measuring, let codec = bots[index].session.codec else { return }
        for entry in update.entries {
            let state: ViewEntry
            switch entry {
            case .full(let s):
                state = s
                fullPoseBits += UInt64(codec.fullBits(s.pose))
                fullPoseCount += 1
            case .update(let s):
                state = s
                if let base = update.baseline[s.id] {
                    deltaPoseBits += UInt64(codec.deltaBits(from: base.pose, to: s.pose))
                    deltaPoseCount += 1
                    // Inputs between the baseline's pose and this one (sequences wrap; both must be real).
                    let span = Int32(bitPattern: s.lastInputSequence &- base.lastInputSequence)
                    if base.lastInputSequence != 0, span >= 0 {
                        deltaSpanInputs += UInt64(span)
                        deltaSpanCount += 1
                    }
                }
            case .leave:
                continue
            }
            guard state.id != me, state.lastInputSequence != 0 else { continue }
            // Read and written in place (a copy of the table taken out of the bot would be copied on write).
            let previous = bots[index].seenInputs[state.id]
            guard previous == 0 || Int32(bitPattern: state.lastInputSequence &- previous) > 0 else { continue }
            bots[index].seenInputs[state.id] = state.lastInputSequence
            // The first sighting may be an old input; count only advances seen live.
            guard previous != 0, let sent = sendTimes.time(avatar: state.id, sequence: state.lastInputSequence) else {
                continue
            }
            if sent <= now && now - sent < 10_000_000 { poseLatency.record(micros: now - sent) }
        }
    }

    /// Leaves gracefully: ENet counts a peer as gone once its disconnect is queued, so wait for the
    /// acknowledgements (the disconnect events), bounded in time.
    private func leaveAll() {
        var pending = 0
        for bot in bots where bot.connected {
            if let peer = bot.peer {
                hosts[bot.host].disconnect(peer, data: ReasonCode.none.disconnectData)
                pending += 1
            }
        }
        for host in hosts { host.flush() }
        let deadline = MonotonicClock.nowMicros() + 2_000_000
        while pending > 0 && MonotonicClock.nowMicros() < deadline {
            var any = false
            for host in hosts {
                while host.poll({ if case .disconnected = $0 { pending -= 1 } }) { any = true }
            }
            if !any { MonotonicClock.sleep(micros: 1000) }
        }
    }

    // MARK: the report

    private func makeReport(elapsedSeconds: Double, startedAt: String) -> LoadReport {
        var report = LoadReport(
            scenario: scenario.name, durationSeconds: elapsedSeconds, startedAt: startedAt, seed: scenario.seed,
            server: serverAddress.description, world: scenario.world, botsRequested: bots.count)
        report.botsConnected = connectedCount
        report.botsFailed = failedCount
        report.failureReasons = failureReasons
        report.connectMs = connectTime.totalMillis
        report.rttMs = rtt.totalMillis
        report.poseLatencyMs = poseLatency.totalMillis
        addVoiceFigures(to: &report)

        // Per-bot bandwidth over each bot's connected time. Application payload is what each bot counts;
        // scaling by the hosts' ENet totals adds the protocol overhead so the mean is exact UDP payload.
        let io = hosts.map(\.statistics)
        let hostDown = Double(io.reduce(0) { $0 + $1.bytesReceived })
        let hostUp = Double(io.reduce(0) { $0 + $1.bytesSent })
        let appDown = Double(bots.reduce(0) { $0 + $1.bytesDown })
        let appUp = Double(bots.reduce(0) { $0 + $1.bytesUp })
        let end = MonotonicClock.nowMicros()
        var downRates: [Double] = []
        var upRates: [Double] = []
        for bot in bots where bot.joinedMicros != 0 {
            let seconds = Double(end - bot.joinedMicros) / 1e6
            guard seconds >= 1 else { continue }
            downRates.append(Double(bot.bytesDown) * (appDown > 0 ? hostDown / appDown : 1) * 8 / 1000 / seconds)
            upRates.append(Double(bot.bytesUp) * (appUp > 0 ? hostUp / appUp : 1) * 8 / 1000 / seconds)
        }
        report.downKbpsPerBot = MeanP99(mean: mean(downRates), p99: percentile(downRates, 99))
        report.upKbpsPerBot = MeanP99(mean: mean(upRates), p99: percentile(upRates, 99))
        // Bot-seconds actually connected (bots that dropped out count for the time they were there).
        let stillConnected = bots.reduce(UInt64(0)) { $0 + ($1.connected ? end - $1.joinedMicros : 0) }
        let botSeconds = max(1e-6, Double(stillConnected + connectedMicrosOfGoneBots) / 1e6)
        report.downDatagramsPerSecondPerBot = Double(io.reduce(0) { $0 + $1.datagramsReceived }) / botSeconds
        report.upDatagramsPerSecondPerBot = Double(io.reduce(0) { $0 + $1.datagramsSent }) / botSeconds
        report.snapshotsPerSecondPerBot = Double(snapshotsTotal) / botSeconds
        let measuringBots = Double(max(1, bots.filter { $0.measuring && $0.joinedMicros != 0 }.count))
        report.snapshotGapsPerBotPerMinute = Double(snapshotGaps) / measuringBots / max(1e-6, elapsedSeconds / 60)
        if fullPoseCount > 0 { report.poseBytesAbsoluteMean = Double(fullPoseBits) / Double(fullPoseCount) / 8 }
        if deltaPoseCount > 0 { report.poseBytesDeltaMean = Double(deltaPoseBits) / Double(deltaPoseCount) / 8 }
        if deltaSpanCount > 0 { report.poseDeltaSpanMean = Double(deltaSpanInputs) / Double(deltaSpanCount) }

        // Server figures: the median of its per-second p50s and the 99th percentile of its per-second p99s.
        if !serverSamples.isEmpty {
            let steady = Array(serverSamples.dropFirst(min(2, serverSamples.count - 1)))
            func overRun(p50s: [Double], p99s: [Double]) -> Percentiles {
                Percentiles(p50: percentile(p50s, 50), p99: percentile(p99s, 99), max: p99s.max())
            }
            report.serverTickMs = overRun(p50s: steady.map(\.tickMillisP50), p99s: steady.map(\.tickMillisP99))
            let cpuP99s = steady.compactMap(\.tickCpuMillisP99)
            if !cpuP99s.isEmpty {
                report.serverTickCpuMs = overRun(p50s: steady.compactMap(\.tickCpuMillisP50), p99s: cpuP99s)
            }
            report.serverCpuCores = mean(steady.map(\.cpuCores))
            report.serverVoiceCpuCores = mean(steady.compactMap(\.voiceCpuCores))
            report.serverVoiceAddedMs = Self.voiceAdded(samples: serverSamples, steadyFrom: serverSamples.count - steady.count)
            report.serverDatagramsInPerSecond = mean(steady.map(\.datagramsInPerSecond))
            report.serverDatagramsOutPerSecond = mean(steady.map(\.datagramsOutPerSecond))
            if let first = serverSamples.first, let last = serverSamples.last {
                // Totals since the node started: what grew over the run.
                func grown(_ a: UInt64?, _ b: UInt64?) -> Double? {
                    guard let a, let b else { return nil }
                    return Double(b - min(a, b))
                }
                report.serverTickOverruns = grown(first.tickOverruns, last.tickOverruns)
                report.serverSocketDrops = grown(first.socketDrops, last.socketDrops)
                report.serverVoiceFramesOverflowed = grown(first.voiceFramesOverflowed, last.voiceFramesOverflowed)
            }
        } else {
            notes.append("no server statistics source: server figures not measured")
        }

        report.botCpuCores = mean(timeline.compactMap(\.botCpuCores))
        report.botSendLagMsMax = timeline.compactMap(\.botSendLagMs).max()
        report.botSaturated = !saturationReasons.isEmpty
        report.botSaturationReasons = saturationReasons.sorted()
        report.timeline = timeline
        report.notes = notes
        return report
    }
}

extension LoadReport {
    /// Evaluates the scenario's SLOs into the report.
    public mutating func applySLO(_ thresholds: [SLOThreshold]) {
        slo = evaluate(thresholds, on: self)
    }

    /// 0 when every SLO passed, 1 otherwise (an SLO failed, or no bot connected at all).
    public var exitCode: Int32 {
        slo.passed && botsConnected > 0 ? 0 : 1
    }

    /// A failed run worth repeating: the tool saturated, so its latency and rate figures describe a machine
    /// that could not keep the bots' schedule (another process, a stalled VM), not the server under test.
    public var failedWhileSaturated: Bool {
        exitCode != 0 && botSaturated
    }
}
