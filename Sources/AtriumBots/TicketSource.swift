import AtriumSecurity
import AtriumTransport
import AtriumWire
import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where bots get their join tickets (PROTOCOL.md §18): minted with the node's keyring for an in-process node,
/// or asked of a remote node's `POST /v1/join` with the organizer API key — the same call a real client's
/// backend makes.
public protocol TicketSource: Sendable {
    func ticket(userId: String, displayName: String, role: Role, world: String) throws(TicketError) -> JoinTicket
}

public struct TicketError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Tickets issued directly with a keyring (the in-process node's, or the public development key).
public struct KeyringTicketSource: TicketSource {
    let keyring: TokenKeyring
    let serverAddress: String

    public init(keyring: TokenKeyring, serverAddress: String) {
        self.keyring = keyring
        self.serverAddress = serverAddress
    }

    public func ticket(userId: String, displayName: String, role: Role, world: String) throws(TicketError) -> JoinTicket {
        do {
            return try JoinTicket.issue(
                keyring: keyring, userId: userId, displayName: displayName, role: role.rawValue, worldId: world,
                serverAddresses: [serverAddress])
        } catch {
            throw TicketError("cannot issue a ticket: \(error)")
        }
    }
}

/// Tickets from a node's `POST /v1/join` (blocking; the runner calls it from its prefetch thread).
public struct JoinServiceTicketSource: TicketSource {
    let url: URL
    let apiKey: String

    public init?(url text: String, apiKey: String) {
        guard let url = URL(string: text), url.scheme == "http" || url.scheme == "https" else { return nil }
        self.url = url
        self.apiKey = apiKey
    }

    public func ticket(userId: String, displayName: String, role: Role, world: String) throws(TicketError) -> JoinTicket {
        var request = URLRequest(url: url, timeoutInterval: 10)
        request.httpMethod = "POST"
        request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization")
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try? JSONEncoder().encode(
            JoinRequest(userId: userId, displayName: displayName, role: role.name, world: world))
        let answer = Mutex<(Data?, Int, String?)>((nil, 0, nil))
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            answer.withLock { $0 = (data, (response as? HTTPURLResponse)?.statusCode ?? 0, error.map { "\($0)" }) }
            done.signal()
        }.resume()
        done.wait()
        let (data, status, failure) = answer.withLock { $0 }
        if let failure { throw TicketError("join request to \(url) failed: \(failure)") }
        guard status == 200, let data else {
            let text = data.flatMap { String(data: $0, encoding: .utf8) } ?? ""
            throw TicketError("join request to \(url): HTTP \(status) \(text.prefix(200))")
        }
        do {
            return try JoinTicket.decode(json: data)
        } catch {
            throw TicketError(error.description)
        }
    }
}

/// Fetches tickets in bot order on its own thread, a bounded distance ahead of the joins, so a slow join
/// endpoint never stalls the bots' loop and no ticket sits unused for long (tokens expire).
final class TicketPipeline: Sendable {
    private struct State {
        var ready: [Int: Result<JoinTicket, TicketError>] = [:]
        var taken = 0
        var stopped = false
    }

    private let state = Mutex(State())
    private let source: TicketSource
    private let lookahead: Int

    init(source: TicketSource, lookahead: Int) {
        self.source = source
        self.lookahead = max(1, lookahead)
    }

    /// Starts fetching tickets 0..<count; `request(i)` names bot i.
    func start(count: Int, request: @escaping @Sendable (Int) -> (userId: String, displayName: String, role: Role, world: String)) {
        let thread = Thread { [self] in
            for index in 0..<count {
                while true {
                    let (stop, wait) = state.withLock { ($0.stopped, index - $0.taken >= lookahead) }
                    if stop { return }
                    if !wait { break }
                    Thread.sleep(forTimeInterval: 0.005)
                }
                let r = request(index)
                let result = Result { () throws(TicketError) -> JoinTicket in
                    try source.ticket(userId: r.userId, displayName: r.displayName, role: r.role, world: r.world)
                }
                state.withLock { $0.ready[index] = result }
            }
        }
        thread.name = "atrium-bots-tickets"
        thread.start()
    }

    /// Bot `index`'s ticket once fetched (nil while still on its way).
    func take(_ index: Int) -> Result<JoinTicket, TicketError>? {
        state.withLock { state in
            guard let result = state.ready.removeValue(forKey: index) else { return nil }
            state.taken = max(state.taken, index + 1)
            return result
        }
    }

    func stop() { state.withLock { $0.stopped = true } }
}
