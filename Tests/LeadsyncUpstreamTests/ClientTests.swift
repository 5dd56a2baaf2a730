import AsyncHTTPClient
import LeadsyncTestSupport
import LeadsyncValues
import NIOCore
import NIOHTTP1
import Testing

@testable import LeadsyncSandbox
@testable import LeadsyncUpstream

/// The clients against the sandbox on a loopback port, asserting the exact requests.
@Suite(.serialized) struct ClientTests {
    static func withSandbox(_ body: (SandboxServer, GHLClient, CallToolsClient) async throws -> Void) async throws {
        try await UpstreamHarness.with { h in try await body(h.server, h.ghl, h.calltools) }
    }

    @Test func ghlContactReadSendsBearerAndVersion() async throws {
        try await Self.withSandbox { server, ghl, _ in
            await server.state.putGHLContact(
                JSONObject([
                    "id": .string("c1"), "firstName": .string("Ana"),
                    "tags": .array([.string("cold lead")]),
                ]))
            let contact = try await ghl.contact("c1")
            #expect(contact["firstName"] == .string("Ana"))
            let r = try #require(await server.state.requests.last)
            #expect(r.method == "GET")
            #expect(r.path == "/contacts/c1")
            #expect(r.headers["authorization"] == "Bearer sandbox-ghl-token")
            #expect(r.headers["version"] == "2021-07-28")
            #expect(r.body == nil)
        }
    }

    @Test func ghlSearchPagesWithSearchAfterNeverPages() async throws {
        try await Self.withSandbox { server, ghl, _ in
            for i in 0..<7 {
                await server.state.putGHLContact(
                    JSONObject([
                        "id": .string("c\(i)"),
                        "dateUpdated": .string(
                            Timestamp(milliseconds: 1_700_000_000_000 + Int64(i % 3) * 1000).iso8601),
                    ]))
            }
            var ids: [String] = []
            var after: JSON?
            var pages = 0
            repeat {
                let page = try await ghl.search(pageLimit: 3, searchAfter: after)
                ids += page.contacts.compactMap { $0["id"]?.stringValue }
                after = page.next
                pages += 1
            } while after != nil
            #expect(Set(ids).count == 7 && ids.count == 7)
            #expect(pages == 3)
            let bodies = await server.state.requests.compactMap(\.body)
            #expect(bodies.allSatisfy { $0["page"] == nil })
            #expect(
                bodies[0]
                    == .object(
                        JSONObject([
                            "locationId": .string("sandboxLocation0001"), "pageLimit": .number(3),
                            "sort": .array([
                                .object(JSONObject(["field": .string("dateUpdated"), "direction": .string("asc")]))
                            ]),
                        ])))
            #expect(bodies[1]["searchAfter"] != nil)
        }
    }

    @Test func ghlTagsGoThroughTheTagEndpoints() async throws {
        try await Self.withSandbox { server, ghl, _ in
            await server.state.putGHLContact(JSONObject(["id": .string("c1"), "tags": .array([.string("cold lead")])]))
            try await ghl.addTags("c1", ["in-calltools"])
            try await ghl.removeTags("c1", ["cold lead"])
            let requests = await server.state.requests
            #expect(
                requests.map { "\($0.method) \($0.path) \($0.status)" } == [
                    "POST /contacts/c1/tags 201", "DELETE /contacts/c1/tags 200",
                ])
            #expect(requests[0].body == .object(JSONObject(["tags": .array([.string("in-calltools")])])))
            #expect(await server.state.ghlContact("c1")?["tags"] == .array([.string("in-calltools")]))
        }
    }

    @Test func theSandboxRejectsWhatGHLRejects() async throws {
        try await Self.withSandbox { server, ghl, _ in
            func raw(_ body: String, version: Bool = true) async throws -> (Int, String) {
                var request = HTTPClientRequest(url: server.baseURL + "/contacts/search")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer sandbox-ghl-token")
                if version { request.headers.add(name: "Version", value: "2021-07-28") }
                request.body = .bytes(ByteBuffer(string: body))
                let r = try await ghl.http.client.execute(request, timeout: .seconds(2))
                let bytes = try await r.body.collect(upTo: 1 << 20)
                return (Int(r.status.code), String(buffer: bytes))
            }
            #expect(try await raw(#"{"locationId":"sandboxLocation0001","pageLimit":10}"#, version: false).0 == 400)
            #expect(
                try await raw(#"{"locationId":"sandboxLocation0001","pageLimit":501}"#)
                    == (422, #"{"statusCode":422,"message":["pageLimit must not be greater than 500"]}"#))
            #expect(
                try await raw(#"{"locationId":"sandboxLocation0001","pageLimit":10,"tags":["x"]}"#)
                    == (422, #"{"statusCode":422,"message":["property tags should not exist"]}"#))
            // The client never sends more than 500.
            _ = try await ghl.search(pageLimit: 501)
            #expect(await server.state.requests.last?.body?["pageLimit"] == .number(500))
        }
    }

    @Test func callToolsUsesTokenAuthAndTrailingSlashes() async throws {
        try await Self.withSandbox { server, _, ct in
            let id = try await ct.create(
                .object(
                    JSONObject([
                        "first_name": .string("Ana"), "mobile_phone_number": .string("+14155550132"),
                        "buckets": .array([.number(11237)]),
                        "favourite_colour": .string("blue"),
                    ])))
            try await ct.update(id, .object(JSONObject(["add_tags": .array([.number(7)])])))
            let found = try await ct.findByPhone("+14155550132")
            #expect(found.map(\.id) == [id])
            #expect(found.first?.buckets == [11237])
            #expect(found.first?.tags == [7])
            // Unknown keys are silently dropped, as CallTools does.
            #expect(found.first?.fields["favourite_colour"] == nil)
            let requests = await server.state.requests
            #expect(
                requests.map { "\($0.method) \($0.path)" } == [
                    "POST /api/contacts/", "PATCH /api/contacts/\(id)/", "GET /api/contacts/",
                ])
            #expect(requests.allSatisfy { $0.headers["authorization"] == "Token sandbox-calltools-key" })
            // Every page is read (250 at a time): a look-up never concludes from part of a list.
            #expect(requests[2].query == ["phone_number": "+14155550132", "page": "1", "page_size": "250"])
        }
    }

    @Test func aPhoneFilterTheServerIgnoresIsCaughtClientSide() async throws {
        try await Self.withSandbox { server, _, ct in
            await server.state.putCallToolsContact(JSONObject(["mobile_phone_number": .string("+14155550100")]))
            let found = try await ct.findByPhone("+19995550000")
            #expect(found.isEmpty)
        }
    }

    @Test func createNeverDeduplicates() async throws {
        try await Self.withSandbox { server, _, ct in
            let body = JSON.object(JSONObject(["mobile_phone_number": .string("+14155550132")]))
            let a = try await ct.create(body)
            let b = try await ct.create(body)
            #expect(a != b)
            #expect(await server.state.calltoolsContacts().count == 2)
        }
    }

    @Test func bucketsAndTagsResolve() async throws {
        try await Self.withSandbox { server, _, ct in
            #expect(try await ct.buckets() == ["Cold Leads": 11237, "Active Clients": 11252, "Reactivation": 11300])
            #expect(try await ct.tag(named: "ACA Cold lead") == nil)
            let id = try await ct.createTag("ACA Cold lead")
            #expect(try await ct.tag(named: "aca cold LEAD") == id)
            let paths = await server.state.requests.map { "\($0.method) \($0.path) \($0.query["page_size"] ?? "")" }
            #expect(paths.first == "GET /api/buckets/ 250")
        }
    }

    @Test func bearerToCallToolsIsRefused() async throws {
        try await Self.withSandbox { server, _, _ in
            var request = HTTPClientRequest(url: server.baseURL + "/api/contacts/")
            request.headers.add(name: "Authorization", value: "Bearer sandbox-calltools-key")
            let http = UpstreamHTTP.makeClient()
            let r = try await http.execute(request, timeout: .seconds(2))
            #expect(r.status.code == 401)
            var noSlash = HTTPClientRequest(url: server.baseURL + "/api/contacts")
            noSlash.headers.add(name: "Authorization", value: "Token sandbox-calltools-key")
            #expect(try await http.execute(noSlash, timeout: .seconds(2)).status.code == 404)
            try await http.shutdown()
        }
    }

    @Test func a429WithRetryAfterIsHonoured() async throws {
        try await Self.withSandbox { server, _, ct in
            var f = Faults()
            f.burst429 = 1
            f.retryAfterSeconds = 1
            await server.state.setFaults(f)
            let start = ContinuousClock.now
            _ = try await ct.buckets()
            let elapsed = ContinuousClock.now - start
            let requests = await server.state.requests
            #expect(requests.map(\.status) == [429, 200])
            // No request before the Retry-After elapsed.
            #expect(elapsed >= .milliseconds(950))
        }
    }

    @Test func serverErrorsAndResetsAreRetriedForReads() async throws {
        try await Self.withSandbox { server, _, ct in
            var f = Faults()
            f.resets = 1
            await server.state.setFaults(f)
            #expect(try await ct.buckets().count == 3)
            f = Faults()
            f.errorRate = 1
            await server.state.setFaults(f)
            do {
                _ = try await ct.buckets()
                Issue.record("expected a failure")
            } catch let error as UpstreamError {
                #expect(error.description == "calltools GET /api/buckets/: HTTP 500: sandbox fault (after 4 attempts)")
                #expect(error.isTransient)
            }
        }
    }

    @Test func aCreateWhoseOutcomeIsUnknownIsNotRetried() async throws {
        try await Self.withSandbox { server, _, ct in
            var f = Faults()
            f.errorRate = 1
            await server.state.setFaults(f)
            do {
                _ = try await ct.create(.object(JSONObject(["first_name": .string("Ana")])))
                Issue.record("expected a failure")
            } catch let error as UpstreamError {
                #expect(error.outcomeUnknown)
                #expect(error.attempts == 1)
            }
            #expect(await server.state.requests.count == 1)
        }
    }

    @Test func fourHundredsAreNotRetried() async throws {
        try await Self.withSandbox { server, _, ct in
            await #expect(throws: UpstreamError.self) { _ = try await ct.createTag("") }
            #expect(await server.state.requests.count == 1)
        }
    }

    @Test func deadlinesEndSlowCallsAndCreatesAreNotRepeated() async throws {
        try await Self.withSandbox { server, _, _ in
            var f = Faults()
            f.latency = .milliseconds(300)
            await server.state.setFaults(f)
            let slow = CallToolsClient(
                baseURL: server.baseURL, apiKey: "sandbox-calltools-key", client: UpstreamHTTP.makeClient(),
                budget: TokenBucket(capacity: 100, period: .seconds(1)), timeout: .milliseconds(100),
                retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(1), maxDelay: .milliseconds(2)))
            do {
                _ = try await slow.buckets()
                Issue.record("expected a timeout")
            } catch let error as UpstreamError {
                #expect(error.kind == .timeout)
                #expect(error.attempts == 2)
                #expect(
                    error.description == "calltools GET /api/buckets/: no answer before the deadline (after 2 attempts)"
                )
            }
            do {
                _ = try await slow.create(.object(JSONObject(["first_name": .string("Ana")])))
                Issue.record("expected a timeout")
            } catch let error as UpstreamError {
                #expect(error.outcomeUnknown && error.attempts == 1)
            }
            try await slow.http.client.shutdown()
        }
    }
}
