import Foundation
import LeadsyncValues

/// The rules files the suites run against, in one place. Each names what it exercises; a test
/// that needs a variation derives it from one of these (`replacingOccurrences`) rather than
/// copying the whole file.
public enum Fixtures {
    /// The fields every fixture maps: enough to see a create's body and find a contact by phone
    /// or by `crm_id`.
    static let fields = """
        fields:
          first_name: "{{ firstName }}"
          mobile_phone_number: "{{ phone | e164 }}"
          crm_id: "{{ id }}"
        """

    /// The server's: "cold lead" goes to bucket 11237 and is tagged back in GHL; customers are
    /// excluded.
    public static let server = """
        version: 1
        buckets:
          cold: 11237
          active: 11252
        \(fields)
        exclusions:
          - name: customer
            when: { tags: { has: customer } }
        rules:
          - name: cold
            when: { tags: { has: cold lead } }
            bucket: cold
            ghl_tags: { add: [in-dialer] }
        """

    /// The executor's: a bucket resolved by name, an exclusive rule that marks a customer and
    /// swaps CallTools tags, a DND exclusion.
    public static let executor = """
        version: 1
        buckets:
          cold: { name: "Cold Leads" }
          active: 11252
        \(fields)
        exclusions:
          - name: dnc
            when: { field: dnd, equals: true }
        rules:
          - name: active
            when: { tags: { has: active } }
            bucket: active
            exclusive: true
            calltools_tags: { add: [Active client], remove: [Cold lead] }
            mark_customer: true
            stop: true
          - name: cold
            when: { tags: { has: cold lead } }
            bucket: cold
            calltools_tags: { add: [Cold lead] }
            ghl_tags: { add: [in-calltools] }
        """

    /// A rule that reads a custom field by its key (the catalog's path).
    public static let customField = """
        version: 1
        buckets:
          cold: 11237
          active: 11252
        \(fields)
        rules:
          - name: big-budget
            when: { field: customFields.budget, equals: high }
            bucket: active
          - name: cold
            when: { tags: { has: cold lead } }
            bucket: cold
        """

    /// Many contacts needing the same two CallTools tags at once, one of them non-ASCII.
    public static let burst = """
        version: 1
        buckets:
          cold: 11237
        \(fields)
        rules:
          - name: cold
            when: { tags: { has: cold lead } }
            bucket: cold
            calltools_tags: { add: ["ACA Cold lead", "Burst 🔥"] }
        """

    /// Do-not-call as GHL carries it: the all-channel `dnd` and the per-channel Call setting.
    public static let callDND = """
        version: 1
        buckets:
          cold: 11237
        \(fields)
        exclusions:
          - name: do-not-call
            when:
              any:
                - { field: dnd, equals: true }
                - { field: dndSettings.Call.status, in: [active, permanent] }
        rules:
          - name: cold
            when: { tags: { has: cold lead } }
            bucket: cold
        """

    /// The repository's own `rules/cold-leads.yaml`, the example operators start from.
    public static let coldLeadsFile: String = {
        (try? String(contentsOfFile: repositoryRoot + "/rules/cold-leads.yaml", encoding: .utf8)) ?? ""
    }()

    /// The package's root directory (this file is `Tests/LeadsyncTestSupport/Fixtures.swift`).
    public static let repositoryRoot: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()

    /// The fixed "now" of tests that do not run against the wall clock.
    public static let now = Timestamp(iso8601: "2026-11-29T12:00:00Z")!

    /// The wall clock, as a `Timestamp` (for tests whose waits are real).
    public static func wallClock() -> Timestamp {
        Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
    }

    /// The environment for the `leadsync` binary run against the sandbox at `baseURL`, its rate
    /// limits lifted (the parent's environment, plus these).
    public static func cliEnvironment(sandbox baseURL: String) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["GHL_BASE_URL"] = baseURL
        env["GHL_API_KEY"] = "sandbox-ghl-token"
        env["GHL_LOCATION_ID"] = "sandboxLocation0001"
        env["CALLTOOLS_BASE_URL"] = baseURL
        env["CALLTOOLS_API_KEY"] = "sandbox-calltools-key"
        env["GHL_RATE_LIMIT"] = "100000/1"
        env["CALLTOOLS_RATE_LIMIT"] = "100000/1"
        return env
    }
}

/// GHL's own documents, copied from the project's shared/upstream into Tests/Fixtures.
public enum GHLDocuments {
    public static let root: String = {
        var path = #filePath
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }()
    public static let apps = root + "/Tests/Fixtures/ghl-openapi/apps"

    /// The contact webhook events GHL documents, one page each.
    public static let webhookTypes = [
        "ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactDndUpdate", "ContactDelete",
    ]

    /// The example block of a webhook page: the first ```json fence that is not the schema.
    public static func webhookExample(_ type: String) throws -> JSON {
        guard let data = FileManager.default.contents(atPath: apps + "/webhook-\(type).md") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: apps + "/webhook-\(type).md"])
        }
        var rest = String(decoding: data, as: UTF8.self)[...]
        while let fence = rest.range(of: "```json") {
            let header = rest[fence.upperBound...].prefix { $0 != "\n" }
            let bodyStart = rest.index(fence.upperBound, offsetBy: header.count)
            guard let end = rest[bodyStart...].range(of: "```") else { break }
            if !header.contains("schema") { return try JSONParser.parse(String(rest[bodyStart..<end.lowerBound])) }
            rest = rest[end.upperBound...]
        }
        throw CocoaError(.fileReadCorruptFile)
    }
}
