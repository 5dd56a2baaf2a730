import Crypto
import CryptoExtras
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LeadsyncCore
import LeadsyncIntake
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncValues
import LeadsyncWebhooks
import NIOCore
import Testing

@testable import LeadsyncServer

/// Every endpoint and status of product.md §3, in process, without workers: what intake stored
/// stays in the inbox for the assertions.
@Suite struct RouterTests {
    @Test func marketplaceStatuses() async throws {
        try await ServerHarness.with { h in
            let accepted = ServerHarness.event(webhookId: "w-1")
            try await h.routerOnly().test(.router) { client in
                // No signature, then a wrong one: 401, nothing stored.
                let unsigned = try await client.execute(
                    uri: "/webhook/ghl", method: .post, body: ByteBuffer(string: accepted))
                #expect(unsigned.status == .unauthorized)
                #expect(unsigned.body.text.contains("no x-ghl-signature"))
                var forged = h.signed(accepted)
                forged[HTTPField.Name("x-ghl-signature")!] = h.emitter.sign(Array("other body".utf8))
                let bad = try await client.execute(
                    uri: "/webhook/ghl", method: .post, headers: forged, body: ByteBuffer(string: accepted))
                #expect(bad.status == .unauthorized)
                #expect(try h.store.inboxCounts() == InboxCounts())

                // Over 1 MiB: 413.
                let big = String(repeating: " ", count: (1 << 20) + 1)
                let large = try await client.execute(
                    uri: "/webhook/ghl", method: .post, headers: h.signed(big), body: ByteBuffer(string: big))
                #expect(large.status == .contentTooLarge)

                // Signed but malformed: 400 with a one-line reason.
                for (body, reason) in [
                    ("{not json", "body is not JSON"), (#"{"id":"c1"}"#, "no 'type'"),
                    (#"{"type":"ContactUpdate","locationId":"sandboxLocation0001"}"#, "no contact id"),
                    ("[1,2]", "must be a JSON object"),
                ] {
                    let r = try await client.execute(
                        uri: "/webhook/ghl", method: .post, headers: h.signed(body), body: ByteBuffer(string: body))
                    #expect(r.status == .badRequest, "\(body)")
                    #expect(r.body.text.contains(reason), "\(r.body.text)")
                    #expect(!r.body.text.contains("\n"))
                }

                // Not about a contact: 200 ignored, nothing stored.
                let other = #"{"type":"OpportunityCreate","id":"o1","webhookId":"w-9"}"#
                let ignored = try await client.execute(
                    uri: "/webhook/ghl", method: .post, headers: h.signed(other), body: ByteBuffer(string: other))
                #expect(ignored.status == .ok)
                #expect(ignored.body.text == #"{"status":"ignored"}"#)
                #expect(try h.store.inboxCounts().pending == 0)

                // Stored, then the same webhookId again.
                let first = try await client.execute(
                    uri: "/webhook/ghl", method: .post, headers: h.signed(accepted), body: ByteBuffer(string: accepted))
                #expect(first.status == .ok)
                #expect(first.body.text == #"{"status":"accepted"}"#)
                let again = try await client.execute(
                    uri: "/webhook/ghl", method: .post, headers: h.signed(accepted), body: ByteBuffer(string: accepted))
                #expect(again.status == .ok)
                #expect(again.body.text == #"{"status":"duplicate"}"#)
                let stored = try h.store.pendingInboxEvents(contact: "c1")
                #expect(stored.count == 1)
                #expect(stored.first?.body == accepted)  // the exact bytes
                #expect(stored.first?.webhookId == "w-1")
                #expect(stored.first?.eventType == "ContactTagUpdate")

                // RSA x-wh-signature when there is no Ed25519 header.
                let metrics = try await client.execute(uri: "/metrics", method: .get)
                #expect(metrics.status == .ok)
                #expect(metrics.body.text.contains(#"leadsync_webhooks_total{outcome="accepted"} 1"#))
                #expect(metrics.body.text.contains(#"leadsync_webhooks_total{outcome="unauthorized"} 2"#))
                #expect(metrics.body.text.contains(#"leadsync_webhooks_total{outcome="bad_request"} 4"#))
                // The queue depth is counted at most once a second, never per scrape.
                try await eventually("the queue depth in /metrics") {
                    try await client.execute(uri: "/metrics", method: .get).body.text.contains("leadsync_queue_depth 1")
                }
            }
        }
    }

    @Test func rsaSignatureIsAccepted() async throws {
        let rsa = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        try await ServerHarness.with { h in
            let verifier = try WebhookVerifier(
                ed25519PEM: h.key.publicKey.pemRepresentation, rsaPEM: rsa.publicKey.pemRepresentation)
            let body = ServerHarness.event(webhookId: "rsa-1")
            let signature = try rsa.signature(for: SHA256.hash(data: Data(body.utf8)), padding: .insecurePKCS1v1_5)
            #expect(
                verifier.verify(
                    body: Array(body.utf8), ghlSignature: nil,
                    whSignature: signature.rawRepresentation.base64EncodedString()) == .valid(.rsa))
            let verdict = WebhookIntake.marketplace(
                body: Array(body.utf8),
                signature: verifier.check(
                    body: Array(body.utf8), ghlSignature: nil,
                    whSignature: signature.rawRepresentation.base64EncodedString()))
            guard case .store(let event) = verdict else {
                Issue.record("expected the event to be stored, got \(verdict)")
                return
            }
            #expect(event.webhookId == "rsa-1")
        }
    }

    @Test func storeFailureAnswers429WithRetryAfter() async throws {
        try await ServerHarness.with(readOnlyStore: true) { h in
            let body = ServerHarness.event()
            try await h.routerOnly().test(.router) { client in
                let r = try await client.execute(
                    uri: "/webhook/ghl", method: .post, headers: h.signed(body), body: ByteBuffer(string: body))
                #expect(r.status == .tooManyRequests)
                #expect(r.headers[.retryAfter] == "60")
            }
        }
    }

    @Test func workflowStatuses() async throws {
        try await ServerHarness.with { disabled in
            try await disabled.routerOnly().test(.router) { client in
                let r = try await client.execute(
                    uri: "/webhook/ghl-workflow", method: .post, body: ByteBuffer(string: #"{"contact_id":"c1"}"#))
                #expect(r.status == .forbidden)
            }
            try await ServerHarness.with(configure: { $0.workflowSecret = "s3cret" }) { h in
                try await h.routerOnly().test(.router) { client in
                    var wrong = HTTPFields()
                    wrong[HTTPField.Name("x-webhook-secret")!] = "guess"
                    let r1 = try await client.execute(
                        uri: "/webhook/ghl-workflow", method: .post, headers: wrong, body: ByteBuffer(string: "{}"))
                    #expect(r1.status == .unauthorized)
                    var right = HTTPFields()
                    right[HTTPField.Name("x-webhook-secret")!] = "s3cret"
                    let r2 = try await client.execute(
                        uri: "/webhook/ghl-workflow", method: .post, headers: right,
                        body: ByteBuffer(string: #"{"first_name":"Ana"}"#))
                    #expect(r2.status == .badRequest)
                    #expect(r2.body.text.contains("contact_id"))
                    let r3 = try await client.execute(
                        uri: "/webhook/ghl-workflow", method: .post, headers: right,
                        body: ByteBuffer(string: #"{"contact_id":"c9","tags":"cold lead"}"#))
                    #expect(r3.status == .ok)
                    #expect(r3.body.text == #"{"status":"accepted"}"#)
                    #expect(try h.store.pendingInboxEvents(contact: "c9").first?.source == "workflow")
                }
            }
        }
    }

    @Test func adminEndpointsAreDisabledWithoutAToken() async throws {
        try await ServerHarness.with { h in
            try await h.routerOnly().test(.router) { client in
                for (method, uri) in [
                    (HTTPRequest.Method.post, "/sync/trigger"), (.get, "/sync/runs/1"), (.get, "/sync/stats"),
                    (.post, "/sync/mark-customer/c1"), (.post, "/rules/reload"),
                ] {
                    var auth = HTTPFields()
                    auth[.authorization] = "Bearer anything"
                    let r = try await client.execute(uri: uri, method: method, headers: auth)
                    #expect(r.status == .forbidden, "\(uri)")
                }
                #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
                let ready = try await client.execute(uri: "/readyz", method: .get)
                #expect(ready.status == .ok)
                #expect(ready.body.text.contains(h.server.rules.current.hash))
            }
        }
    }

    @Test func adminEndpoints() async throws {
        try await ServerHarness.with(configure: { $0.adminToken = "t0ken" }) { h in
            let auth: HTTPFields = [.authorization: "Bearer t0ken"]
            try await h.routerOnly().test(.router) { client in
                var wrong = HTTPFields()
                wrong[.authorization] = "Bearer t0ke"
                #expect(
                    try await client.execute(uri: "/sync/stats", method: .get, headers: wrong).status == .unauthorized)
                #expect(try await client.execute(uri: "/sync/stats", method: .get).status == .unauthorized)

                let stats = try await client.execute(uri: "/sync/stats", method: .get, headers: auth)
                #expect(stats.status == .ok)
                var expected = try #require(try h.store.statsReport().objectValue)
                // The live parts the store cannot know: each upstream's breaker, the backlog's ETA.
                expected["upstreams"] = .object(
                    JSONObject([
                        "ghl": .object(JSONObject(["state": .string("closed")])),
                        "calltools": .object(JSONObject(["state": .string("closed")])),
                    ]))
                expected["backlog_eta_seconds"] = .number(0)
                expected["ghl_daily_budget"] = .object(
                    JSONObject(["exhausted": .bool(false), "batch_paused_until": .null]))
                #expect(stats.body.text == JSONWriter.encode(.object(expected)))
                #expect(stats.body.text.contains(#""queue_depth":0"#))

                // No worker runs here, so the first pass stays "running": the second trigger is refused.
                let t1 = try await client.execute(uri: "/sync/trigger?full=true", method: .post, headers: auth)
                #expect(t1.status == .accepted)
                let parsed = try JSONParser.parse(t1.body.text)
                let runId = try #require(parsed["run_id"])
                #expect(t1.body.text.contains(#""mode":"full""#))
                let t2 = try await client.execute(uri: "/sync/trigger", method: .post, headers: auth)
                #expect(t2.status == .conflict)
                let run = try await client.execute(uri: "/sync/runs/1", method: .get, headers: auth)
                #expect(run.status == .ok, "\(runId)")
                #expect(run.body.text.contains(#""status":"running""#))
                #expect(try await client.execute(uri: "/sync/runs/99", method: .get, headers: auth).status == .notFound)

                let mark = try await client.execute(uri: "/sync/mark-customer/c7", method: .post, headers: auth)
                #expect(mark.status == .ok)
                #expect(try h.store.contact("c7").markedCustomer)
                #expect(try h.store.pendingInboxEvents(contact: "c7").first?.source == "reread")

                // Reload: unchanged, then a broken file (422, old rules stay), then a good change.
                let hash = h.server.rules.current.hash
                let same = try await client.execute(uri: "/rules/reload", method: .post, headers: auth)
                #expect(same.status == .ok)
                #expect(same.body.text.contains(hash))
                try "version: 1\nbuckets: { cold: 1 }\nrules:\n  - name: x\n    wen: {}\n".write(
                    toFile: h.rulesPath, atomically: true, encoding: .utf8)
                let broken = try await client.execute(uri: "/rules/reload", method: .post, headers: auth)
                #expect(broken.status == .unprocessableContent)
                #expect(broken.body.text.contains(#""diagnostics":[{"#))
                #expect(broken.body.text.contains(#""line":5"#))
                #expect(broken.body.text.contains(#""live_hash":"\#(hash)""#))
                #expect(h.server.rules.current.hash == hash)
                try (Fixtures.server + "\n# changed\n").write(toFile: h.rulesPath, atomically: true, encoding: .utf8)
                let good = try await client.execute(uri: "/rules/reload", method: .post, headers: auth)
                #expect(good.status == .ok)
                #expect(good.body.text.contains(#""status":"reloaded""#))
                #expect(h.server.rules.current.hash != hash)
                let metrics = try await client.execute(uri: "/metrics", method: .get)
                #expect(metrics.body.text.contains(#"leadsync_rules_reloads_total{result="failed"} 1"#))
                #expect(metrics.body.text.contains(#"leadsync_rules_reloads_total{result="ok"} 2"#))
                #expect(!metrics.body.text.contains("t0ken"))
            }
        }
    }
}
