import Foundation
import Hummingbird
import Logging
import NIOCore

/// Where the admin endpoint reads node statistics from; filled once the node is running.
public final class StatisticsBoard: Sendable {
    private let runtime = Mutex<NodeRuntime?>(nil)

    public init() {}

    func attach(_ node: NodeRuntime) { runtime.withLock { $0 = node } }
    public var current: NodeStatistics? { runtime.withLock { $0?.statistics } }
    /// The node's bound UDP port, once it runs.
    public var port: UInt16? { runtime.withLock { $0?.port } }
}

import Synchronization

/// The node's small HTTP admin surface (Hummingbird): `GET /v1/stats`, `GET /healthz` and `POST /v1/join`. It binds to
/// `admin_bind_address` (loopback by default) because it is for operators and load tools, not clients.
public enum AdminHTTP {
    public static func application(
        board: StatisticsBoard, host: String, port: Int, logger: Logger, join: JoinIssuer? = nil
    ) -> some ApplicationProtocol {
        let router = Router()
        join?.register(on: router)
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/v1/stats") { _, _ -> Response in
            guard let stats = board.current else {
                return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: "starting\n")))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(data: StatisticsDocument(stats).encoded())))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "atrium"),
            logger: logger)
    }
}
