import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LeadsyncStore
import LeadsyncTestSupport
import LeadsyncValues
import Mustache
import NIOCore
import Testing

@testable import LeadsyncServer

/// The operator page's access rules (issue 12): nothing without signing in, no POST without the
/// session's CSRF token, the cookie's flags, the token never in a page; and its actions.
@Suite struct OperatorPageTests {
    static let admin = "operator-admin-token-0123456789abcdef"
    static let pages = ["/ui", "/ui/contacts", "/ui/contacts/c1", "/ui/dead-letters", "/ui/rules", "/ui/runs"]
    static let actions = ["/ui/logout", "/ui/dead-letters/replay", "/ui/rules/preview", "/ui/rules/reload"]
    static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    /// Signs in; the session cookie and the CSRF token the pages carry.
    static func signIn(
        _ client: some TestClientProtocol, forwardedProto: String? = nil
    ) async throws -> (
        cookie: String, csrf: String, setCookie: String
    ) {
        var headers = form
        if let forwardedProto { headers[HTTPField.Name("x-forwarded-proto")!] = forwardedProto }
        let r = try await client.execute(
            uri: "/ui/login", method: .post, headers: headers,
            body: ByteBuffer(string: "token=\(FormEncoding.encode(admin))"))
        #expect(r.status == .seeOther && r.headers[.location] == "/ui")
        let setCookie = try #require(r.headers[.setCookie])
        let cookie = String(setCookie.split(separator: ";")[0])
        let page = try await client.execute(uri: "/ui/rules", method: .get, headers: [.cookie: cookie])
        let html = page.body.text
        let marker = #"name="csrf" value=""#
        let start = try #require(html.range(of: marker)).upperBound
        let csrf = String(html[start...].prefix { $0 != "\"" })
        return (cookie, csrf, setCookie)
    }

    @Test func offWithoutAnAdminToken() async throws {
        try await ServerHarness.with { h in
            try await h.routerOnly().test(.router) { client in
                for path in Self.pages + ["/ui/login"] {
                    let r = try await client.execute(uri: path, method: .get)
                    #expect(r.status == .notFound, "\(path)")
                    #expect(r.body.text.contains("LEADSYNC_ADMIN_TOKEN"))
                }
                for path in Self.actions + ["/ui/login"] {
                    #expect(try await client.execute(uri: path, method: .post).status == .notFound, "\(path)")
                }
            }
        }
    }

    @Test func nothingWithoutSigningInAndNoPostWithoutCSRF() async throws {
        try await ServerHarness.with(configure: { $0.adminToken = Self.admin }) { h in
            try await h.routerOnly().test(.router) { client in
                // Not signed in: pages go to the sign-in form, actions are refused.
                for path in Self.pages {
                    let r = try await client.execute(uri: path, method: .get)
                    #expect(r.status == .seeOther && r.headers[.location] == "/ui/login", "\(path)")
                    let forged = try await client.execute(
                        uri: path, method: .get, headers: [.cookie: "leadsync_session=guess"])
                    #expect(forged.status == .seeOther, "\(path)")
                }
                for path in Self.actions {
                    let r = try await client.execute(
                        uri: path, method: .post, headers: Self.form, body: ByteBuffer(string: "csrf=x"))
                    #expect(r.status == .forbidden, "\(path)")
                }
                let login = try await client.execute(uri: "/ui/login", method: .get)
                #expect(login.status == .ok)
                #expect(login.body.text.contains(#"<label for="token">Admin token</label>"#))

                // A wrong token: 401, no cookie, the token not echoed.
                let wrong = try await client.execute(
                    uri: "/ui/login", method: .post, headers: Self.form, body: ByteBuffer(string: "token=nope-nope"))
                #expect(wrong.status == .unauthorized && wrong.headers[.setCookie] == nil)
                #expect(!wrong.body.text.contains("nope-nope"))

                let session = try await Self.signIn(client)
                #expect(session.setCookie.contains("HttpOnly") && session.setCookie.contains("SameSite=Strict"))
                #expect(!session.setCookie.contains("Secure"))
                #expect(session.csrf.count == 64)
                let behindTLS = try await Self.signIn(client, forwardedProto: "https")
                #expect(behindTLS.setCookie.contains("; Secure"))

                // Every page renders, and none carries the admin token.
                for path in Self.pages {
                    let r = try await client.execute(uri: path, method: .get, headers: [.cookie: session.cookie])
                    #expect(r.status == (path == "/ui/contacts/c1" ? .notFound : .ok), "\(path)")
                    #expect(r.headers[.contentType] == "text/html; charset=utf-8")
                    #expect(!r.body.text.contains(Self.admin), "\(path)")
                    #expect(r.body.text.contains("<h1>"), "\(path)")
                }

                // POSTs: no token, a wrong one, another session's: 403 and nothing done.
                var headers = Self.form
                headers[.cookie] = session.cookie
                for body in ["", "csrf=", "csrf=\(String(repeating: "0", count: 64))", "csrf=\(behindTLS.csrf)"] {
                    let r = try await client.execute(
                        uri: "/ui/rules/reload", method: .post, headers: headers, body: ByteBuffer(string: body))
                    #expect(r.status == .forbidden, "\(body)")
                }
                let reload = try await client.execute(
                    uri: "/ui/rules/reload", method: .post, headers: headers,
                    body: ByteBuffer(string: "csrf=\(session.csrf)"))
                #expect(reload.status == .ok && reload.body.text.contains("The file is unchanged"))
                #expect(!reload.body.text.contains(#"id="drift""#))
                // An edit on disk not yet loaded: the page says so.
                try (Fixtures.server + "\n# edited\n").write(toFile: h.rulesPath, atomically: true, encoding: .utf8)
                let drifted = try await client.execute(
                    uri: "/ui/rules", method: .get, headers: [.cookie: session.cookie])
                #expect(drifted.body.text.contains("has changed since the live rules were loaded"))

                // Signing out ends the session.
                let out = try await client.execute(
                    uri: "/ui/logout", method: .post, headers: headers, body: ByteBuffer(string: "csrf=\(session.csrf)")
                )
                #expect(out.status == .seeOther && out.headers[.setCookie]?.contains("Max-Age=0") == true)
                let after = try await client.execute(uri: "/ui", method: .get, headers: [.cookie: session.cookie])
                #expect(after.status == .seeOther)
            }
        }
    }

    /// A dead letter replayed from the page is pending again; a preview shows the plan.
    @Test func replayAndPreview() async throws {
        try await ServerHarness.with(configure: { $0.adminToken = Self.admin }) { h in
            try await h.enqueue(ServerHarness.event(id: "d1", webhookId: "w-d1"), contact: "d1")
            try await h.enqueue(ServerHarness.event(id: "d2", webhookId: "w-d2"), contact: "d2")
            let seqs =
                try h.store.pendingInboxEvents(contact: "d1").map(\.seq)
                + h.store.pendingInboxEvents(contact: "d2").map(\.seq)
            _ = try h.store.failInboxEvents(
                seqs, error: "CallTools answered 400", permanent: true, retryAt: Fixtures.wallClock(), maxAttempts: 1,
                at: Fixtures.wallClock())
            #expect(try h.store.inboxCounts().dead == 2)
            try await h.routerOnly().test(.router) { client in
                let session = try await Self.signIn(client)
                let list = try await client.execute(
                    uri: "/ui/dead-letters", method: .get, headers: [.cookie: session.cookie])
                #expect(list.body.text.contains("CallTools answered 400"))
                #expect(list.body.text.contains(#"aria-label="Select event \#(seqs[0])""#))
                var headers = Self.form
                headers[.cookie] = session.cookie
                let one = try await client.execute(
                    uri: "/ui/dead-letters/replay", method: .post, headers: headers,
                    body: ByteBuffer(string: "csrf=\(session.csrf)&selected=\(seqs[1])&seq=\(seqs[0])"))
                #expect(one.status == .seeOther && one.headers[.location] == "/ui/dead-letters?done=1")
                #expect(try h.store.inboxEvent(seqs[0])?.status == .pending)
                #expect(try h.store.inboxEvent(seqs[1])?.status == .dead)
                let selected = try await client.execute(
                    uri: "/ui/dead-letters/replay", method: .post, headers: headers,
                    body: ByteBuffer(string: "csrf=\(session.csrf)&selected=\(seqs[1])&action=selected"))
                #expect(selected.headers[.location] == "/ui/dead-letters?done=1")
                #expect(try h.store.inboxCounts().dead == 0)

                let edited = Fixtures.server.replacingOccurrences(of: "has: cold lead", with: "has: warm lead")
                let preview = try await client.execute(
                    uri: "/ui/rules/preview", method: .post, headers: headers,
                    body: ByteBuffer(string: "csrf=\(session.csrf)&rules=\(FormEncoding.encode(edited))"))
                #expect(preview.status == .ok)
                #expect(preview.body.text.contains("What deploying this edit would do"))
                let broken = try await client.execute(
                    uri: "/ui/rules/preview", method: .post, headers: headers,
                    body: ByteBuffer(
                        string: "csrf=\(session.csrf)&rules=\(FormEncoding.encode("version: 1\nrules: 7\n"))"))
                #expect(broken.status == .unprocessableContent)
                #expect(broken.body.text.contains("does not compile"))
            }
        }
    }

    @Test func everyTemplateParses() {
        for name in UITemplates.all.keys {
            let html = LeadsyncServer.uiLibrary.render(["title": "t", "css": ""], withTemplate: name)
            #expect(html?.contains("<!doctype html>") == true, "\(name)")
        }
    }

    @Test func theChartIsNumbersAndEscapedText() {
        let activity = WebhookActivity()
        let t = Timestamp(milliseconds: 1_800_000_000_000)
        for _ in 0..<7 { activity.record("accepted", at: t) }
        activity.record("ignored", at: Timestamp(milliseconds: t.milliseconds - 120_000))
        activity.record("unauthorized", at: t)
        activity.record("accepted", at: Timestamp(milliseconds: t.milliseconds - 3_700_000))  // over an hour ago
        let minutes = activity.lastHour(at: t)
        #expect(minutes.count == 60 && minutes.last?.counts == [7, 0, 1] && minutes[57].counts == [0, 1, 0])
        let svg = ActivityChart.svg(minutes)
        #expect(svg.contains("7 accepted, 1 ignored, 1 refused; busiest minute 8"))
        #expect(svg.components(separatedBy: "<rect").count - 1 == 3)
        #expect(ActivityChart.niceCeiling(8) == 10 && ActivityChart.niceCeiling(101) == 200)
    }
}
