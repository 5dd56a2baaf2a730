import Foundation
import LeadsyncAuth
import LeadsyncIntake
import LeadsyncSandbox
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncValues
import Testing

@testable import LeadsyncServer

/// A Marketplace app that stays up: installs through `/oauth/callback`, tokens sealed in the
/// file, refreshed ahead of expiry and once on a 401, a spent refresh token reported (not
/// dead-lettered), and only our own locations' and app's events taken.
@Suite struct OAuthTests {
    /// The install the sandbox's GHL redirects to: GET /oauth/callback?code=….
    static func install(_ h: ServerHarness, port: Int, userType: String = "Location") async throws -> (UInt, String) {
        let code = await h.state.issueCode(userType: userType)
        let query = userType == "Company" ? "&user_type=Company" : ""
        let r = try await h.get(port: port, "/oauth/callback?code=\(code)\(query)")
        return (r.status, r.body)
    }

    @Test func anInstallConnectsAndTheFileHoldsNoTokenInClear() async throws {
        try await ServerHarness.with(oauth: SandboxOAuthApp()) { h in
            await h.seed("o1", phone: "+14155550171")
            try await h.running(emitter: false) { port in
                // Before the install: GHL work is held and the server says why.
                let before = try await h.get(port: port, "/readyz")
                #expect(before.status == 503)
                #expect(before.body.contains("not connected"))
                let (status, page) = try await Self.install(h, port: port)
                #expect(status == 200)
                #expect(page.contains("sandboxLocation0001"))
                #expect(try await h.get(port: port, "/readyz").status == 200)
                #expect(try await h.post(port: port, ServerHarness.event(id: "o1", phone: "+14155550171")) == 200)
                try await eventually("o1 in Cold Leads") { await h.calltoolsBuckets()["o1"] == [11237] }
            }
            // Every token the sandbox issued, searched for in the database file and its WAL.
            let issued = await h.state.issuedTokens()
            #expect(!issued.isEmpty)
            for path in [h.dbPath, h.dbPath + "-wal"] {
                guard let data = FileManager.default.contents(atPath: path) else { continue }
                let text = String(decoding: data, as: UTF8.self)
                for token in issued { #expect(!text.contains(token), "a token in clear in \(path)") }
            }
            // Sealed with the key: another key opens nothing, the previous key opens and rotates.
            let row = try #require(try h.store.connection("sandboxLocation0001"))
            let other = try TokenVault(secret: String(repeating: "x", count: 40))
            #expect(throws: TokenVault.Error.self) { _ = try other.open(row.sealed, for: row.key) }
            let rotating = try TokenVault(secret: String(repeating: "y", count: 40), previous: ServerHarness.secretKey)
            #expect(try rotating.open(row.sealed, for: row.key).rotated)
            // Bound to its row: a sealed pair copied to another row's key does not open.
            let same = try TokenVault(secret: ServerHarness.secretKey)
            #expect(throws: TokenVault.Error.self) { _ = try same.open(row.sealed, for: "otherLocation") }
        }
    }

    /// Three-second tokens over nine seconds of webhooks: refreshed ahead of expiry, each
    /// refresh token used once, every lead in its bucket, no dead letter.
    @Test func shortLivedTokensAreRefreshedAndNothingIsLost() async throws {
        try await ServerHarness.with(oauth: SandboxOAuthApp(accessTokenSeconds: 3)) { h in
            for i in 0..<30 { await h.seed("r\(i)", phone: "+1415555\(String(format: "%04d", 3000 + i))") }
            try await h.running(emitter: false) { port in
                #expect(try await Self.install(h, port: port).0 == 200)
                for i in 0..<30 {
                    let body = ServerHarness.event(id: "r\(i)", phone: "+1415555\(String(format: "%04d", 3000 + i))")
                    #expect(try await h.post(port: port, body) == 200)
                    try await Task.sleep(for: .milliseconds(300))
                }
                try await eventually("every lead in Cold Leads") {
                    let b = await h.calltoolsBuckets()
                    return (0..<30).allSatisfy { b["r\($0)"] == [11237] }
                }
            }
            let counts = await h.state.oauthCounts
            #expect(counts.refreshed >= 2, "refreshes: \(counts.refreshed)")
            #expect(counts.reusedRefused == 0)
            // Ahead of expiry: at most a stray 401 per expiry (a call in flight as it lapsed).
            let refused = await h.state.requests.filter { $0.status == 401 }.count
            #expect(refused <= counts.refreshed, "401s: \(refused), refreshes: \(counts.refreshed)")
            #expect(try h.store.inboxCounts().dead == 0)
        }
    }

    /// GHL will not take the saved refresh token (another copy spent it): the location is lost,
    /// said by /readyz and stats; its events are held, not dead-lettered, and a new install
    /// resumes them.
    @Test func aSpentRefreshTokenIsReportedAndAReinstallResumes() async throws {
        let admin = String(repeating: "a", count: 32)
        try await ServerHarness.with(
            configure: { $0.adminToken = admin }, oauth: SandboxOAuthApp(accessTokenSeconds: 2)
        ) {
            h in
            await h.seed("s1", phone: "+14155550181")
            try await h.running(emitter: false) { port in
                #expect(try await Self.install(h, port: port).0 == 200)
                await h.state.spendAllRefreshTokens()
                try await Task.sleep(for: .seconds(2))
                // A workflow event: the contact must be read from GHL.
                await Self.tagged(h, "s1", phone: "+14155550181")
                try await h.enqueueWorkflow(#"{"contact_id":"s1"}"#, contact: "s1")
                h.server.processor.wake()
                try await eventually("the location reported lost") {
                    try await h.get(port: port, "/readyz").status == 503
                }
                let ready = try await h.get(port: port, "/readyz").body
                #expect(ready.contains("must be reconnected"))
                let stats = try await h.get(
                    port: port, "/sync/stats", headers: [("Authorization", "Bearer \(admin)")])
                #expect(stats.body.contains(#""state":"lost""#))
                let metrics = try await h.get(port: port, "/metrics").body
                #expect(
                    metrics.contains(
                        #"leadsync_ghl_token_refreshes_total{location="sandboxLocation0001",result="lost"} 1"#))
                try await eventually("the event held, not dead") { try h.store.inboxCounts().held == 1 }
                #expect(try h.store.inboxCounts().dead == 0)
                #expect(await h.calltoolsBuckets()["s1"] == nil)
                #expect(try await Self.install(h, port: port).0 == 200)
                try await eventually("s1 in Cold Leads after the reinstall") {
                    await h.calltoolsBuckets()["s1"] == [11237]
                }
                #expect(try await h.get(port: port, "/readyz").status == 200)
            }
        }
    }

    @Test func anAgencyInstallMintsTheLocationToken() async throws {
        try await ServerHarness.with(oauth: SandboxOAuthApp()) { h in
            await h.seed("a1", phone: "+14155550191")
            try await h.running(emitter: false) { port in
                #expect(try await Self.install(h, port: port, userType: "Company").0 == 200)
                #expect(try await h.post(port: port, ServerHarness.event(id: "a1", phone: "+14155550191")) == 200)
                try await eventually("a1 in Cold Leads") { await h.calltoolsBuckets()["a1"] == [11237] }
                #expect(await h.state.requests.contains { $0.path == "/oauth/locationToken" && $0.status == 200 })
                #expect(try h.store.connection("company:sandboxCompany0001") != nil)
            }
        }
    }

    @Test func uninstallErasesTheTokensAndHoldsTheWork() async throws {
        try await ServerHarness.with(oauth: SandboxOAuthApp()) { h in
            await h.seed("u1", phone: "+14155550201")
            try await h.running(emitter: false) { port in
                #expect(try await Self.install(h, port: port).0 == 200)
                let uninstall = Self.appEvent("UNINSTALL", appId: h.state.appId)
                #expect(try await h.postWithAnswer(port: port, uninstall).answer == #"{"status":"accepted"}"#)
                #expect(try h.store.connection("sandboxLocation0001") == nil)
                #expect(try await h.get(port: port, "/readyz").body.contains("uninstalled"))
                await Self.tagged(h, "u1", phone: "+14155550201")
                try await h.enqueueWorkflow(#"{"contact_id":"u1"}"#, contact: "u1")
                h.server.processor.wake()
                try await eventually("the event held, not dead") { try h.store.inboxCounts().held == 1 }
                #expect(await h.calltoolsBuckets()["u1"] == nil)
                #expect(try h.store.inboxCounts().dead == 0)
            }
        }
    }

    /// The contact in sandbox GHL with the tag that routes it to Cold Leads.
    static func tagged(_ h: ServerHarness, _ id: String, phone: String) async {
        var c = JSONObject()
        c["id"] = .string(id)
        c["firstName"] = .string("Ana")
        c["phone"] = .string(phone)
        c["tags"] = .array([.string("cold lead")])
        await h.state.putGHLContact(c)
    }

    static func appEvent(_ type: String, appId: String, location: String = "sandboxLocation0001") -> String {
        var o = JSONObject()
        o["type"] = .string(type)
        o["appId"] = .string(appId)
        o["locationId"] = .string(location)
        o["companyId"] = .string("sandboxCompany0001")
        o["timestamp"] = .string(Fixtures.wallClock().iso8601)
        o["webhookId"] = .string(UUID().uuidString)
        return JSONWriter.encode(.object(o))
    }
}

/// Signed by GHL is not the same as ours: another location's or another app's events are
/// answered 200 `ignored`, stored nowhere, called for nothing, counted.
@Suite struct AudienceTests {
    @Test func otherLocationsAndAppsAreIgnored() async throws {
        try await ServerHarness.with(configure: {
            $0.appId = "65f0c0ffee0000000000a001"
            $0.workflowSecret = String(repeating: "w", count: 32)
        }) { h in
            try await h.running(emitter: false) { port in
                func event(location: String, app: String?) -> String {
                    var o = JSONObject()
                    o["type"] = .string("ContactTagUpdate")
                    if let app { o["appId"] = .string(app) }
                    o["locationId"] = .string(location)
                    o["id"] = .string("x1")
                    o["phone"] = .string("+14155550211")
                    o["tags"] = .array([.string("cold lead")])
                    o["timestamp"] = .string(Fixtures.wallClock().iso8601)
                    o["webhookId"] = .string(UUID().uuidString)
                    return JSONWriter.encode(.object(o))
                }
                let foreign = try await h.postWithAnswer(
                    port: port, event(location: "someoneElsesLocation", app: "65f0c0ffee0000000000a001"))
                #expect(foreign.status == 200)
                #expect(foreign.answer == #"{"status":"ignored"}"#)
                let otherApp = try await h.postWithAnswer(
                    port: port, event(location: "sandboxLocation0001", app: "aaaaaaaaaaaaaaaaaaaaaaaa"))
                #expect(otherApp.answer == #"{"status":"ignored"}"#)
                let noApp = try await h.postWithAnswer(port: port, event(location: "sandboxLocation0001", app: nil))
                #expect(noApp.answer == #"{"status":"ignored"}"#)
                let ours = try await h.postWithAnswer(
                    port: port, event(location: "sandboxLocation0001", app: "65f0c0ffee0000000000a001"))
                #expect(ours.answer == #"{"status":"accepted"}"#)
                let metrics = try await h.get(port: port, "/metrics").body
                #expect(metrics.contains(#"leadsync_webhooks_ignored_total{reason="unknown_location"} 1"#))
                #expect(metrics.contains(#"leadsync_webhooks_ignored_total{reason="other_app"} 2"#))
            }
            // Only ours reached the inbox, and nothing of the others reached an upstream.
            let counts = try h.store.inboxCounts()
            #expect(counts.pending + counts.done + counts.held + counts.dead == 1)
            let verdict = WebhookIntake.workflow(
                body: Array(#"{"contact_id":"x2","location":{"id":"someoneElsesLocation"}}"#.utf8),
                audience: Audience(locations: ["sandboxLocation0001"]))
            #expect(
                verdict
                    == .ignored(
                        reason: "unknown_location", detail: "location someoneElsesLocation is not configured here"))
            let ok = WebhookIntake.workflow(
                body: Array(#"{"contact_id":"x2","location":{"id":"sandboxLocation0001"}}"#.utf8),
                audience: Audience(locations: ["sandboxLocation0001"]))
            if case .store = ok {} else { Issue.record("our workflow event was not stored: \(ok)") }
        }
    }
}
