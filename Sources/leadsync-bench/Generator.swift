import LeadsyncCore
import LeadsyncSandbox
import LeadsyncValues

/// A deterministic generator of GHL-shaped contacts (SplitMix64), so every run measures the
/// same input. The mix is meant to look like a real sub-account: most contacts carry a few
/// tags, a minority are cold leads, some are customers, some lack a phone or set DND.
struct ContactGenerator {
    var random: SplitMix

    init(seed: UInt64 = 0x1EAD_5EED) { random = SplitMix(seed: seed) }

    mutating func next() -> UInt64 { random.next() }

    mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
    mutating func chance(_ percent: UInt64) -> Bool { next() % 100 < percent }

    static let tagPool = [
        "cold lead", "Cold Lead", "new lead", "prospect", "newsletter", "webinar 2026", "facebook", "vip",
        "coldplay fan",
        "customer", "client - vip", "purchased", "ACA Active 2026", "ACA Active 2025", "clientele", "spanish",
        "follow up", "referral", "google ads", "won", "won't pick up",
    ]
    static let firstNames = ["Ana", "Ben", "Cleo", "Dev", "Eve", "Fay", "Gus", "Hal", "Ida", "Jon", "Kim", "Lee"]
    static let lastNames = ["Silva", "Patel", "Wong", "Lopez", "Smith", "Okafor", "Novak", "Kim", "Berg"]

    func phone(_ g: inout ContactGenerator) -> String {
        let n = 2_000_000_000 + g.next() % 7_999_999_999
        let d = String(n)
        let a = d.prefix(3), b = d.dropFirst(3).prefix(3), c = d.suffix(4)
        switch g.next() % 5 {
        case 0: return "+1\(d)"
        case 1: return "(\(a)) \(b)-\(c)"
        case 2: return "\(a).\(b).\(c)"
        case 3: return "1-\(a)-\(b)-\(c)"
        default: return "+1 \(a) \(b) \(c)"
        }
    }

    /// One contact as a GHL API / marketplace JSON object.
    mutating func contactJSON(index: Int) -> JSON {
        var o = JSONObject()
        o["id"] = .string("gen\(index)x\(next() % 100_000)")
        o["locationId"] = .string("ve9EPM428h8vShlRW1KT")
        let first = pick(Self.firstNames), last = pick(Self.lastNames)
        if !chance(5) { o["firstName"] = .string(first) }
        if !chance(10) { o["lastName"] = .string(last) }
        o["name"] = .string("\(first) \(last)")
        if !chance(15) { o["email"] = .string("\(first).\(last)\(index)@Example.com") }
        if chance(4) {
            o["phone"] = .string(pick(["n/a", "", "tbd"]))
        } else if !chance(4) {
            var g = self
            o["phone"] = .string(phone(&g))
            self = g
        }
        o["dnd"] = .bool(chance(3))
        if chance(5) {
            o["dndSettings"] = .object(JSONObject(["Call": .object(JSONObject(["status": .string("active")]))]))
        }
        var tags: [JSON] = []
        for _ in 0..<Int(next() % 5) { tags.append(.string(pick(Self.tagPool))) }
        o["tags"] = .array(tags)
        o["source"] = .string(pick(["facebook", "landing page", "import", "referral"]))
        o["country"] = .string("US")
        o["dateAdded"] = .string(Timestamp(milliseconds: 1_700_000_000_000 + Int64(next() % 60_000_000_000)).iso8601)
        o["customFields"] = .array([
            .object(JSONObject(["id": .string("BcdmQEsNgz6AVpgLVUJ0"), "value": .number(Double(next() % 100))]))
        ])
        return .object(o)
    }
}
