import AtriumReport
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Reads a remote node's `GET /v1/stats` (docs/ADMIN.md) once a second on its own thread, so the bots'
/// loop never waits on HTTP; the runner takes the latest sample.
public final class ServerStatsPoller: Sendable {
    private let url: URL
    private let latest = Mutex<ServerSample?>(nil)
    private let stopped = Atomic<Bool>(false)

    public init?(url text: String) {
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https" else { return nil }
        self.url = url
    }

    /// Polls until `stop()`.
    public func start() {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .relaxed) {
                if let sample = fetch() { latest.withLock { $0 = sample } }
                Thread.sleep(forTimeInterval: 1)
            }
        }
        thread.name = "atrium-bots-stats"
        thread.start()
    }

    public func stop() { stopped.store(true, ordering: .relaxed) }

    public var sample: ServerSample? { latest.withLock { $0 } }

    private struct Document: Decodable {
        struct Tick: Decodable {
            var p50: Double
            var p99: Double
            var max: Double?
        }
        var tick_ms: Tick
        /// Nodes before per-tick CPU time do not report it.
        var tick_cpu_ms: Tick?
        var cpu_cores: Double
        var datagrams_in_per_s: Double
        var datagrams_out_per_s: Double
        var tick_overruns: UInt64
        struct Counters: Decodable {
            var socket_drops: UInt64?
            var voice_frames_overflowed: UInt64?
        }
        var counters: Counters?
        /// Nodes before voice routing do not report it.
        var voice_cpu_cores: Double?
        /// Absent when the node relayed no voice in its last interval (or predates flush points).
        var voice_added_ms: Tick?
        struct Buckets: Decodable {
            var bucket_us: UInt64
            var counts: [UInt64]
        }
        var voice_added_since_start: Buckets?
    }

    private func fetch() -> ServerSample? {
        let done = DispatchSemaphore(value: 0)
        let body = Mutex<Data?>(nil)
        var request = URLRequest(url: url)
        request.timeoutInterval = 2
        let task = URLSession.shared.dataTask(with: request) { data, response, _ in
            if (response as? HTTPURLResponse)?.statusCode == 200 { body.withLock { $0 = data } }
            done.signal()
        }
        task.resume()
        _ = done.wait(timeout: .now() + 3)
        return body.withLock({ $0 }).flatMap(Self.sample(from:))
    }

    /// A `/v1/stats` document's figures; nil when it is not one.
    static func sample(from data: Data) -> ServerSample? {
        guard let doc = try? JSONDecoder().decode(Document.self, from: data) else { return nil }
        return ServerSample(
            tickMillisP50: doc.tick_ms.p50, tickMillisP99: doc.tick_ms.p99, cpuCores: doc.cpu_cores,
            datagramsInPerSecond: doc.datagrams_in_per_s, datagramsOutPerSecond: doc.datagrams_out_per_s,
            tickOverruns: doc.tick_overruns, voiceCpuCores: doc.voice_cpu_cores,
            voiceAddedMs: doc.voice_added_ms.map { Percentiles(p50: $0.p50, p99: $0.p99, max: $0.max) },
            voiceAddedSinceStart: doc.voice_added_since_start.map {
                LatencyBuckets(bucketMicros: max(1, $0.bucket_us), counts: $0.counts)
            }, socketDrops: doc.counters?.socket_drops, voiceFramesOverflowed: doc.counters?.voice_frames_overflowed,
            tickCpuMillisP50: doc.tick_cpu_ms?.p50, tickCpuMillisP99: doc.tick_cpu_ms?.p99)
    }
}
