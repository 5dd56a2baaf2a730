import AsyncHTTPClient
import Crypto
import CryptoExtras
import Foundation
import LeadsyncValues
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// Delivers the sandbox GHL's webhooks the way GHL does: POST, JSON body, an Ed25519 signature
/// of the exact bytes in `x-ghl-signature`, made with the sandbox's own key pair (a server in
/// sandbox mode trusts `publicKeyPEM`). Like GHL, it retries only after a 429.
public final class SandboxWebhookEmitter: ServiceLifecycle.Service, Sendable {
    let key: Curve25519.Signing.PrivateKey
    let client: HTTPClient
    let logger: Logger
    private let events: AsyncStream<JSONObject>
    private let sink: AsyncStream<JSONObject>.Continuation
    private let target = Mutex<String?>(nil)
    private let counts = Mutex<(sent: Int, failed: Int)>((0, 0))

    public init(client: HTTPClient, logger: Logger, key: Curve25519.Signing.PrivateKey = .init()) {
        self.key = key
        self.client = client
        self.logger = logger
        (events, sink) = AsyncStream<JSONObject>.makeStream()
    }

    /// The public half, for `GHL_WEBHOOK_ED25519_PUBLIC_KEY` or a `WebhookVerifier`.
    public var publicKeyPEM: String { key.publicKey.pemRepresentation }

    /// Where webhooks go (`http://127.0.0.1:PORT/webhook/ghl`); events before it is set wait.
    public func setTarget(_ url: String) { target.withLock { $0 = url } }

    /// Hands events to this emitter: `state.setWebhookSink(emitter.accept)`.
    public var accept: @Sendable (JSONObject) -> Void {
        let sink = self.sink
        return { sink.yield($0) }
    }

    public var delivered: (sent: Int, failed: Int) { counts.withLock { $0 } }

    /// Signs a body as the sandbox GHL does.
    public func sign(_ body: [UInt8]) -> String {
        (try? key.signature(for: body)).map { Data($0).base64EncodedString() } ?? ""
    }

    public func run() async throws {
        for await event in events.cancelOnGracefulShutdown() {
            let body = Array(JSONWriter.encode(.object(event)).utf8)
            await deliver(body)
        }
    }

    func deliver(_ body: [UInt8]) async {
        while target.withLock({ $0 }) == nil {
            if Task.isCancelled { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard let url = target.withLock({ $0 }) else { return }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "x-ghl-signature", value: sign(body))
        request.body = .bytes(ByteBuffer(bytes: body))
        for attempt in 1...3 {
            do {
                let response = try await client.execute(request, timeout: .seconds(10))
                _ = try? await response.body.collect(upTo: 1 << 16)
                if response.status.code == 429 && attempt < 3 {
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                counts.withLock { response.status.code == 200 ? ($0.sent += 1) : ($0.failed += 1) }
                if response.status.code != 200 {
                    logger.warning("sandbox webhook answered \(response.status.code)")
                }
                return
            } catch {
                if attempt == 3 || Task.isCancelled {
                    counts.withLock { $0.failed += 1 }
                    logger.warning("sandbox webhook not delivered: \(error)")
                    return
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}
