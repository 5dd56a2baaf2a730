import LeadsyncValues

/// One request as the sandbox received it, for tests that assert the exact calls.
public struct RecordedRequest: Sendable, Equatable {
    public var method: String
    public var path: String
    public var query: [String: String]
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: JSON?
    /// The status the sandbox answered (0: the connection was reset).
    public var status: Int
    /// When the request arrived.
    public var at: ContinuousClock.Instant = .now
    /// The `Retry-After` seconds the answer carried, if any.
    public var retryAfter: Double? = nil
}

/// What the sandbox does wrong on purpose.
public struct Faults: Sendable, Equatable {
    /// Share of requests answered 500 (0...1).
    public var errorRate: Double = 0
    /// Added before every answer.
    public var latency: Duration = .zero
    /// Added after a request matching `pathPrefix` was performed, before its answer: a client
    /// killed in that window made the change and never learned of it (a create cut off).
    public var latencyAfterHandling: Duration = .zero
    /// The next N requests get 429 with `Retry-After: retryAfterSeconds`.
    public var burst429: Int = 0
    public var retryAfterSeconds: Double = 1
    /// The next N requests have their connection closed without an answer.
    public var resets: Int = 0
    /// Share of requests answered 429 with `Retry-After: retryAfterSeconds` (0...1).
    public var throttleRate: Double = 0
    /// Share of requests whose connection is closed without an answer (0...1).
    public var resetRate: Double = 0
    /// The next N requests are performed, then their connection is closed without an answer:
    /// the client cannot know the create happened (the crash-safety case).
    public var resetsAfterHandling: Int = 0
    /// The whole upstream is down: every request to it is answered 503 (as a load balancer
    /// in front of a dead service answers), whatever `pathPrefix` and `method` say.
    public var calltoolsDown = false
    public var ghlDown = false
    /// Only requests whose path starts with this are affected (nil: all).
    public var pathPrefix: String?
    /// Only requests with this method are affected (nil: all).
    public var method: String?

    public init() {}
}

/// The emulated accounts: a GHL location and a CallTools account, in memory.
public actor SandboxState {
    // GHL
    public nonisolated let locationId: String
    public nonisolated let ghlToken: String
    var ghlContacts: [String: JSONObject] = [:] {
        didSet { sortCache = nil }
    }
    var ghlOrder: [String] = []
    /// Contacts sorted for search, by (field, descending): rebuilt after any change, so a pass
    /// over 100,000 contacts does not re-sort them for every page.
    var sortCache: (field: String, descending: Bool, keys: [(Int64, String)])?
    public var customFieldDefinitions: [CustomFieldCatalog.Definition] = []
    public func setCustomFields(_ list: [CustomFieldCatalog.Definition]) { customFieldDefinitions = list }
    /// Whether `POST /contacts/search` leaves `dndSettings` (and `inboundDndSettings`) out of its
    /// results, as GHL users report, while `GET /contacts/{id}` has them. Unconfirmed either way
    /// (upstreams.md), so the product is tested both ways.
    public var searchOmitsDndSettings = false
    public func setSearchOmitsDndSettings(_ omit: Bool) { searchOmitsDndSettings = omit }
    /// How far `POST /contacts/search` lags writes, in milliseconds ("the search index lags
    /// writes by a few seconds", upstreams.md): a write shows in search results only this long
    /// after it was made, while `GET /contacts/{id}` has it at once. 0: no lag.
    public private(set) var searchLagMs: Int64 = 0
    /// The contacts as search knows them, while there is a lag, and the writes not yet in it.
    var searchIndexed: [String: JSONObject] = [:]
    var searchPending: [(at: Int64, id: String, contact: JSONObject)] = []
    public func setSearchLag(milliseconds: Int64) {
        searchLagMs = max(0, milliseconds)
        searchIndexed = searchLagMs > 0 ? ghlContacts : [:]
        searchPending = []
    }
    /// GHL's daily budget per location (200,000) and what was spent of it.
    public var ghlDailyLimit = 200_000
    var ghlDailyUsed = 0
    /// Sets the daily budget and what is spent of it (tests of a spent day).
    public func setGHLDaily(limit: Int, used: Int = 0) {
        ghlDailyLimit = limit
        ghlDailyUsed = used
    }
    /// Whether GHL's 429 carries a `Retry-After` (GHL documents none: off by default).
    public var ghlSendsRetryAfter = false
    public func setGHLSendsRetryAfter(_ on: Bool) { ghlSendsRetryAfter = on }
    /// GHL's per-location budget (100 per 10 s); nil lifts it.
    public var ghlLimit: (count: Int, periodMs: Int64)? = (100, 10_000)
    var ghlWindow: (start: Int64, used: Int) = (0, 0)

    // CallTools
    public nonisolated let calltoolsKey: String
    private(set) var ctContacts: [Int: JSONObject] = [:]
    /// E.164 number → contact ids, kept in step by `setCallToolsContact`: phone look-ups stay
    /// cheap in a 100,000-contact benchmark.
    var phoneIndex: [String: [Int]] = [:]

    /// The one way CallTools contacts change (nil deletes), so the phone index stays right.
    func setCallToolsContact(_ id: Int, _ contact: JSONObject?) {
        func phones(_ c: JSONObject?) -> [String] { c?["_phone_numbers"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        for p in phones(ctContacts[id]) {
            phoneIndex[p]?.removeAll { $0 == id }
            if phoneIndex[p]?.isEmpty == true { phoneIndex[p] = nil }
        }
        ctContacts[id] = contact
        for p in phones(contact) { phoneIndex[p, default: []].append(id) }
    }

    func removeAllCallToolsContacts() {
        ctContacts.removeAll()
        phoneIndex.removeAll()
    }
    var nextContactId = 1001
    public var buckets: [(id: Int, name: String)] = [
        (11237, "Cold Leads"), (11252, "Active Clients"), (11300, "Reactivation"),
    ]
    var tags: [(id: Int, name: String)] = []
    var nextTagId = 501
    /// Field slugs the account defines; anything else in a body is silently dropped, as
    /// CallTools does.
    public var fieldSlugs: Set<String> = [
        "first_name", "last_name", "address", "city", "state", "zip_code", "country", "time_zone", "do_not_contact",
        "mobile_phone_number", "home_phone_number", "personal_email_address", "crm_id", "lead_source",
    ]
    /// Phone-type slugs, which feed `_phone_numbers`.
    public var phoneSlugs: Set<String> = ["mobile_phone_number", "home_phone_number"]
    /// CallTools' per-key budget; nil lifts it (the default in tests).
    public var calltoolsLimit: (count: Int, periodMs: Int64)? = nil
    var ctWindow: (start: Int64, used: Int) = (0, 0)

    public var faults = Faults()
    public private(set) var requests: [RecordedRequest] = []
    var rng = SplitMix(seed: 42)
    /// Where emitted webhooks go (see `SandboxState+Webhooks.swift`).
    var webhookSink: (@Sendable (JSONObject) -> Void)?
    // OAuth (SandboxState+OAuth.swift)
    var oauthApp: SandboxOAuthApp?
    var codes: [String: String] = [:]
    var accessTokens: [String: SandboxGrantHolder] = [:]
    var refreshTokens: [String: SandboxGrantHolder] = [:]
    var spentRefreshTokens: Set<String> = []
    var oauthRefreshed = 0
    var oauthReuseRefused = 0
    var oauthExpiredRefused = 0
    /// The Marketplace app whose events this GHL delivers (`appId` on every marketplace event).
    public nonisolated let appId = "65f0c0ffee0000000000a001"
    var observer: (@Sendable (RecordedRequest) -> Void)?
    let clock = ContinuousClock()
    let epoch = ContinuousClock.now
    /// The wall clock when the sandbox started: its times (webhook `timestamp`s, `dateAdded`)
    /// are real ones, as GHL's are, so a server's replay window judges them as it would GHL's.
    let wallEpoch = SandboxState.wallClockMilliseconds()

    public init(
        locationId: String = "sandboxLocation0001", ghlToken: String = "sandbox-ghl-token",
        calltoolsKey: String = "sandbox-calltools-key"
    ) {
        self.locationId = locationId
        self.ghlToken = ghlToken
        self.calltoolsKey = calltoolsKey
    }

    // MARK: Setup and inspection (tests, demo, `leadsync sandbox`)

    public func setFaults(_ f: Faults) { faults = f }
    /// Takes the whole emulated CallTools down (every request answered 503) or brings it back,
    /// leaving the other faults as they are.
    public func setCallToolsDown(_ down: Bool) { faults.calltoolsDown = down }
    public func setLimits(ghl: (Int, Int64)?, calltools: (Int, Int64)?) {
        ghlLimit = ghl
        calltoolsLimit = calltools
    }
    public func clearRequests() { requests.removeAll() }
    public func record(_ r: RecordedRequest) {
        requests.append(r)
        observer?(r)
    }
    /// Sees every request as it is recorded (benchmarks time arrivals with it).
    public func setObserver(_ o: (@Sendable (RecordedRequest) -> Void)?) { observer = o }

    /// Adds or replaces a GHL contact (a JSON object with at least `id`).
    public func putGHLContact(_ contact: JSONObject) {
        guard let id = contact["id"]?.stringValue else { return }
        var c = contact
        c["locationId"] = .string(locationId)
        if c["dateAdded"] == nil { c["dateAdded"] = .string(Timestamp(milliseconds: 1_700_000_000_000).iso8601) }
        if c["dateUpdated"] == nil { c["dateUpdated"] = c["dateAdded"] }
        storeGHLContact(c, id: id)
    }

    /// Every write of a GHL contact: live at once, in search results after the lag.
    func storeGHLContact(_ contact: JSONObject, id: String) {
        if ghlContacts[id] == nil { ghlOrder.append(id) }
        ghlContacts[id] = contact
        if searchLagMs > 0 { searchPending.append((nowMs(), id, contact)) }
    }

    /// The contacts search answers from: every contact, or with a lag, those writes older than it.
    func searchableContacts() -> [String: JSONObject] {
        guard searchLagMs > 0 else { return ghlContacts }
        let due = nowMs() - searchLagMs
        let ready = searchPending.prefix { $0.at <= due }
        for write in ready { searchIndexed[write.id] = write.contact }
        searchPending.removeFirst(ready.count)
        return searchIndexed
    }

    public func ghlContact(_ id: String) -> JSONObject? { ghlContacts[id] }
    public var ghlContactCount: Int { ghlContacts.count }
    public func calltoolsContacts() -> [Int: JSONObject] { ctContacts }
    public func calltoolsTags() -> [(id: Int, name: String)] { tags }
    public func setBuckets(_ list: [(Int, String)]) { buckets = list.map { (id: $0.0, name: $0.1) } }

    func contacts(withPhone phone: String) -> [JSONObject] {
        (phoneIndex[phone] ?? []).sorted().compactMap { ctContacts[$0] }
    }

    /// Adds a CallTools contact directly (one created "by hand" before leadsync).
    @discardableResult
    public func putCallToolsContact(_ fields: JSONObject) -> Int {
        let id = nextContactId
        nextContactId += 1
        var c = JSONObject()
        c["id"] = .number(Double(id))
        applyCallToolsBody(fields, to: &c, create: true)
        setCallToolsContact(id, c)
        return id
    }

    func nowMs() -> Int64 {
        let d = clock.now - epoch
        return wallEpoch + d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
    }

    /// Decides this request's fault, if any: `.reset`, a status, or nil.
    func fault(for path: String, method: String) -> (reset: Bool, status: Int?, retryAfter: Double?) {
        if path.hasPrefix("/api/") ? faults.calltoolsDown : faults.ghlDown { return (false, 503, nil) }
        if let prefix = faults.pathPrefix, !path.hasPrefix(prefix) { return (false, nil, nil) }
        if let m = faults.method, m != method { return (false, nil, nil) }
        if faults.resets > 0 {
            faults.resets -= 1
            return (true, nil, nil)
        }
        if faults.burst429 > 0 {
            faults.burst429 -= 1
            return (false, 429, faults.retryAfterSeconds)
        }
        // One draw decides among the rates, so they add up as shares of all requests.
        let draw = Double(rng.next() % 10_000) / 10_000
        if draw < faults.errorRate { return (false, 500, nil) }
        if draw < faults.errorRate + faults.throttleRate { return (false, 429, faults.retryAfterSeconds) }
        if draw < faults.errorRate + faults.throttleRate + faults.resetRate { return (true, nil, nil) }
        return (false, nil, nil)
    }

    /// True when this request, once performed, must lose its answer.
    func takeResetAfterHandling(for path: String, method: String) -> Bool {
        if let prefix = faults.pathPrefix, !path.hasPrefix(prefix) { return false }
        if let m = faults.method, m != method { return false }
        guard faults.resetsAfterHandling > 0 else { return false }
        faults.resetsAfterHandling -= 1
        return true
    }

    /// Counts a request against a budget; returns the seconds to wait when it is over.
    func spend(ghl: Bool) -> (over: Bool, retryAfter: Double, remaining: Int) {
        guard let limit = ghl ? ghlLimit : calltoolsLimit else { return (false, 0, 1_000_000) }
        var window = ghl ? ghlWindow : ctWindow
        let now = nowMs()
        if now - window.start >= limit.periodMs { window = (now, 0) }
        window.used += 1
        if ghl { ghlWindow = window } else { ctWindow = window }
        let remaining = max(0, limit.count - window.used)
        if window.used > limit.count {
            return (true, Double(limit.periodMs - (now - window.start)) / 1000, 0)
        }
        return (false, 0, remaining)
    }
}

/// A small deterministic PRNG so fault patterns (and test populations) repeat between runs.
public struct SplitMix: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension SandboxState {
    static func wallClockMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
