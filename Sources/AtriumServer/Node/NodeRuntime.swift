import AtriumSecurity
import AtriumTransport
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The only channel between other threads and a worker: a stop flag, the published statistics and the
/// worker's exit. Locked state is touched once per tick at most, never per packet.
final class NodeControl: Sendable {
    private struct State {
        var stopRequested = false
        var finished = false
        var statistics = NodeStatistics()
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    var stopRequested: Bool { state.withLock { $0.stopRequested } }
    func requestStop() { state.withLock { $0.stopRequested = true } }
    func publish(_ statistics: NodeStatistics) { state.withLock { $0.statistics = statistics } }
    var statistics: NodeStatistics { state.withLock { $0.statistics } }
    var isFinished: Bool { state.withLock { $0.finished } }

    func markFinished() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func waitUntilFinished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.finished { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}

public struct NodeStartError: Error, CustomStringConvertible {
    public let description: String
}

/// A running node: its worker thread, the port it bound, and the way to stop it. Used by `atrium serve`
/// (through `AtriumNodeService`), by the in-process tests and by the load-test tool's local server.
public final class NodeRuntime: Sendable {
    private let control: NodeControl
    public let port: UInt16
    /// The keyring the node opens connect tokens with: in-process users (tests, the load tool's local node)
    /// issue tickets with it directly instead of calling POST /v1/join.
    public let tokenKeyring: TokenKeyring

    private init(control: NodeControl, port: UInt16, tokenKeyring: TokenKeyring) {
        self.control = control
        self.port = port
        self.tokenKeyring = tokenKeyring
    }

    /// Binds the UDP port and starts ticking; returns once the node is listening.
    public static func start(
        configuration: ServerConfiguration, worlds: [LoadedWorld], logger: Logger
    ) throws(NodeStartError) -> NodeRuntime {
        let security: SecuritySettings
        do {
            security = try SecuritySettings(configuration)
        } catch {
            throw NodeStartError(description: error.description)
        }
        var securityLog: SecurityLog?
        if configuration.securityLogDirectory.trimmed != "off" {
            do {
                securityLog = try SecurityLog(
                    directory: configuration.securityLogDirectory, retentionDays: configuration.securityLogRetentionDays)
            } catch {
                throw NodeStartError(description: "\(error)")
            }
        }
        let log = securityLog
        let control = NodeControl()
        let started = StartSignal()
        // The worker (and its ENet host) is created on its own thread and never leaves it.
        let thread = Thread {
            let worker: Worker
            do {
                worker = try Worker(
                    configuration: configuration, worlds: worlds, control: control, logger: logger, security: security,
                    securityLog: log)
            } catch {
                started.fail("\(error)")
                control.markFinished()
                return
            }
            started.succeed(port: worker.host.localPort)
            worker.run()
            log?.close()
            control.markFinished()
        }
        thread.name = "atrium-worker-0"
        thread.stackSize = 8 << 20
        thread.start()
        switch started.wait() {
        case .success(let port):
            return NodeRuntime(control: control, port: port, tokenKeyring: security.keyring)
        case .failure(let error):
            throw error
        }
    }

    public var statistics: NodeStatistics { control.statistics }

    /// Asks the worker to send CLOSING to every client and exit; returns immediately.
    public func stop() { control.requestStop() }

    public var isStopped: Bool { control.isFinished }

    public func waitUntilStopped() async { await control.waitUntilFinished() }

    /// Stops and waits for the worker to finish (bounded by the configured shutdown grace period).
    public func shutdown() async {
        stop()
        await waitUntilStopped()
    }
}

/// One-shot hand-off of the bind result from the worker thread to the starter.
private final class StartSignal: Sendable {
    private let result = Mutex<Result<UInt16, NodeStartError>?>(nil)
    private let semaphore = DispatchSemaphore(value: 0)

    func succeed(port: UInt16) {
        result.withLock { $0 = .success(port) }
        semaphore.signal()
    }

    func fail(_ message: String) {
        result.withLock { $0 = .failure(NodeStartError(description: message)) }
        semaphore.signal()
    }

    func wait() -> Result<UInt16, NodeStartError> {
        semaphore.wait()
        return result.withLock { $0! }
    }
}

/// `atrium serve` as a service-lifecycle `Service`: runs the node until graceful shutdown (SIGINT/SIGTERM),
/// then lets clients receive CLOSING before it returns.
public struct AtriumNodeService: Service {
    let configuration: ServerConfiguration
    let worlds: [LoadedWorld]
    let logger: Logger
    let board: StatisticsBoard

    public init(configuration: ServerConfiguration, worlds: [LoadedWorld], logger: Logger, board: StatisticsBoard) {
        self.configuration = configuration
        self.worlds = worlds
        self.logger = logger
        self.board = board
    }

    public func run() async throws {
        let runtime = try NodeRuntime.start(configuration: configuration, worlds: worlds, logger: logger)
        board.attach(runtime)
        logger.info(
            "listening",
            metadata: [
                "port": "\(runtime.port)", "bind": "\(configuration.bindAddress)",
                "worlds": "\(worlds.map(\.definition.id).joined(separator: ","))",
            ])
        let interval = Duration.milliseconds(max(configuration.statsIntervalMs, 1000) * 10)
        let logger = self.logger
        await withTaskGroup(of: Void.self) { group in
            // A status line every ten stats intervals, so an operator tailing the log sees the node breathe.
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard !Task.isCancelled else { return }
                    logger.info("status", metadata: runtime.statistics.logMetadata)
                }
            }
            await withGracefulShutdownHandler {
                await runtime.waitUntilStopped()
            } onGracefulShutdown: {
                runtime.stop()
            }
            group.cancelAll()
        }
        logger.info("stopped")
    }
}
