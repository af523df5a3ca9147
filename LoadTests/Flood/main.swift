import ArgumentParser
import AtriumSecurity
import AtriumTransport

/// Spoofed-CONNECT flood: many well-formed ENet CONNECTs from random 127/8 sources with random or absent
/// cookies, while one real client joins through the cookie step (see AdmissionFilterFlood).
@main
struct Flood: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "atrium-flood",
        abstract: "Flood a server with spoofed ENet CONNECTs and check that none allocates a peer.",
        discussion: """
            Without --server, a server host with the AdmissionFilter runs in this process on 127.0.0.1 and the
            report includes the peers ENet allocated, its drops by reason and this process's RSS before/after.
            With --server only the sender side and the real client are measured. Linux only (binds 127.x.y.z).
            """)

    @Option(help: "Spoofed CONNECT datagrams to send.") var datagrams: Int = 100_000
    @Option(help: "Seconds to spread them over.") var seconds: Double = 10
    @Option(help: "Target host:port (default: an in-process server).") var server: String?
    @Option(name: .customLong("sources"), help: "UDP sockets in the source pool.") var sources: Int = 256
    @Option(name: .customLong("rotate-every"), help: "Datagrams between re-binding one socket to a new address.")
    var rotateEvery: Int = 16
    @Option(name: .customLong("client-after"), help: "Seconds into the flood at which the real client joins (negative: none).")
    var clientAfter: Double = 2
    @Flag(name: .customLong("no-filter"), help: "Run the in-process server without the AdmissionFilter (control run).")
    var noFilter = false

    func run() throws {
        var options = AdmissionFilterFlood.Options()
        options.datagrams = datagrams
        options.seconds = seconds
        if let server {
            guard let address = TransportAddress.parse(server) else { throw ValidationError("bad --server \(server)") }
            options.server = address
        }
        options.sourceSockets = sources
        options.rotateEvery = rotateEvery
        options.realClientAfterSeconds = clientAfter < 0 ? nil : clientAfter
        options.filter = !noFilter
        print("atrium-flood: \(datagrams) spoofed CONNECTs over \(seconds) s → \(server ?? "in-process server")\(noFilter ? " (no filter)" : "")")
        let report = try AdmissionFilterFlood.run(options)

        func line(_ name: String, _ value: String) { print("  " + name.padding(toLength: 38, withPad: " ", startingAt: 0) + value) }
        line("sent", "\(report.sent) in \(String(format: "%.2f", report.sendSeconds)) s (\(report.sendFailures) refused by the socket)")
        line("distinct sources bound", "\(report.sourcesUsed)")
        line("answers to spoofed sources", "\(report.answersToSpoofedSources) datagrams, \(report.answerBytesToSpoofedSources) bytes")
        if let peak = report.peakSpoofedPeers {
            line("peers allocated for spoofed sources", "\(peak) (peak, any state)")
            line("peers allocated in total", "\(report.peakAllocatedPeers ?? 0) (peak, incl. the real client)")
            line("datagrams received by the server", "\(report.datagramsReceivedByServer ?? 0)")
            line("replies sent / oversized refused", "\(report.serverReplies) / \(report.oversizedReplies)")
            for (reason, count) in report.serverDrops.sorted(by: { $0.value > $1.value }) { line("dropped: \(reason)", "\(count)") }
        }
        if let before = report.rssBeforeKiB, let after = report.rssAfterKiB {
            line("RSS before → after", "\(before) KiB → \(after) KiB (\(after - before >= 0 ? "+" : "")\(after - before) KiB)")
        }
        if options.realClientAfterSeconds != nil {
            if report.realClientConnected {
                line("real client", "connected in \(String(format: "%.1f", report.realClientConnectMilliseconds ?? 0)) ms (cookie step + ENet connect)")
            } else {
                line("real client", "NOT connected: \(report.realClientError ?? "unknown")")
            }
        }
        let failed = (report.peakSpoofedPeers ?? 0) > 0 && options.filter
            || (options.realClientAfterSeconds != nil && !report.realClientConnected)
        if failed { throw ExitCode.failure }
    }
}
