import LeadsyncCore
import LeadsyncSync
import LeadsyncUpstream
import LeadsyncValues

extension Executor {
    /// For a large import: when reading CallTools' whole contact list (250 per page) costs fewer
    /// calls than one phone lookup per new contact, read it once and answer lookups from it
    /// (product.md §3: under a 1,000-per-hour budget every call counts). Returns the pages read,
    /// or nil when the list was not worth reading (one call spent finding out).
    /// Forgets the directory: it describes CallTools as the pass that read it found it, and
    /// must not answer lookups after that pass (webhook workers, later passes).
    public func dropDirectory() { directory = nil }

    public func prefetchDirectory(expectedLookups: Int) async throws -> Int? {
        guard rules.calltools.lookupExisting, directory == nil, expectedLookups > 1 else { return nil }
        let first = try await calltools.contactsPage(1)
        let pages = (first.count + CallToolsClient.maxPageSize - 1) / CallToolsClient.maxPageSize
        // At most 400 pages (100,000 CallTools contacts) held in memory; past that, per-contact
        // lookups keep a pass's memory bounded.
        guard pages < expectedLookups, pages <= Self.maxDirectoryPages else { return nil }
        var map: [String: CallToolsContact] = [:]
        func add(_ list: [CallToolsContact]) {
            // The lowest id wins, as the first match of a phone search would.
            // Keyed by E.164, as lookups ask: a number kept in another form still matches.
            for c in list {
                for p in c.phoneNumbers.map({ PhoneNumber.e164($0) ?? $0 }) where map[p].map({ c.id < $0.id }) ?? true {
                    map[p] = c
                }
            }
        }
        add(first.contacts)
        var page = 1
        var more = first.more
        while more {
            page += 1
            let next = try await calltools.contactsPage(page)
            add(next.contacts)
            more = next.more
        }
        directory = map
        return page
    }

    public static let maxDirectoryPages = 400

    /// Resolves every bucket and tag the rules name, once, before concurrent work (two contacts
    /// resolving the same missing tag at once would create it twice).
    public func resolveAll() async throws {
        let buckets = rules.buckets.map(\.name).filter { resolution.buckets[$0] == nil }
        var add: [String] = [], remove: [String] = []
        for rule in rules.rules {
            add += rule.calltoolsTags.add.filter(resolution.needsResolving(toAdd:))
            remove += rule.calltoolsTags.remove.filter(resolution.needsResolving(toRemove:))
        }
        if !buckets.isEmpty || !add.isEmpty || !remove.isEmpty {
            try await resolve(buckets: buckets, tagsToAdd: Array(Set(add)), tagsToRemove: Array(Set(remove)))
        }
    }

}
