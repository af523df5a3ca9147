import AtriumSecurity
import AtriumWire
import Foundation
import Hummingbird
import NIOCore

/// `POST /v1/join` (docs/ADMIN.md): an organizer's backend, holding the node's API key, asks for a connect
/// token for one person and passes the answer (a `JoinTicket`) to that person's client. The token names the
/// world, display name and role the node will give the session; the client cannot change them.
public struct JoinIssuer: Sendable {
    let settings: SecuritySettings
    let bindAddress: String
    /// World id → roles it allows.
    let worlds: [String: Set<Role>]
    let board: StatisticsBoard

    public init(configuration: ServerConfiguration, worlds: [LoadedWorld], board: StatisticsBoard) throws(SecuritySettings.Refused) {
        settings = try SecuritySettings(configuration)
        bindAddress = configuration.bindAddress
        self.worlds = Dictionary(uniqueKeysWithValues: worlds.map { ($0.definition.id, Set($0.definition.allowedRoles)) })
        self.board = board
    }

    public enum Failure: Error, Equatable, Sendable {
        case unauthorized
        case badRequest(String)
        case unknownWorld(String)
        case notReady
    }

    /// Checks the API key (constant time) and the request, then issues a ticket.
    public func issue(authorization: String?, body: Data, nowSeconds: UInt64 = JoinTicket.unixSeconds()) -> Result<JoinTicket, Failure> {
        guard let authorization, authorization.hasPrefix("Bearer "),
            settings.acceptsJoinApiKey(String(authorization.dropFirst("Bearer ".count)))
        else { return .failure(.unauthorized) }
        let request: JoinRequest
        do {
            request = try JSONDecoder().decode(JoinRequest.self, from: body)
        } catch {
            return .failure(.badRequest("body must be JSON {user_id, display_name, role, world}"))
        }
        guard let roles = worlds[request.world] else { return .failure(.unknownWorld(request.world)) }
        guard let role = Role(name: request.role) else { return .failure(.badRequest("unknown role '\(request.role)'")) }
        guard roles.contains(role) else { return .failure(.badRequest("role \(request.role) is not allowed in \(request.world)")) }
        guard let port = board.port else { return .failure(.notReady) }
        do {
            let ticket = try JoinTicket.issue(
                keyring: settings.keyring, userId: request.userId, displayName: request.displayName, role: role.rawValue,
                worldId: request.world, serverAddresses: [settings.tokenAddress(bindAddress: bindAddress, port: port)],
                nowSeconds: nowSeconds, lifetimeSeconds: settings.tokenLifetimeSeconds)
            return .success(ticket)
        } catch {
            return .failure(.badRequest("\(error)"))
        }
    }

    /// Adds the route to `router`.
    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/join") { request, context -> Response in
            let body = try await request.body.collect(upTo: 4096)
            switch issue(authorization: request.headers[.authorization], body: Data(buffer: body)) {
            case .success(let ticket):
                return Response(
                    status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(data: ticket.json())))
            case .failure(let failure):
                let (status, message): (HTTPResponse.Status, String) =
                    switch failure {
                    case .unauthorized: (.unauthorized, "missing or wrong organizer API key")
                    case .badRequest(let why): (.badRequest, why)
                    case .unknownWorld(let world): (.notFound, "no world '\(world)' on this node")
                    case .notReady: (.serviceUnavailable, "node is starting")
                    }
                let json = (try? JSONEncoder().encode(["error": message])) ?? Data()
                return Response(
                    status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: json)))
            }
        }
    }
}
