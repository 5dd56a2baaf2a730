import LeadsyncStore
import LeadsyncSync
import LeadsyncUpstream
import LeadsyncValues

extension Executor {
    /// After a process died while applying this contact, what the store says CallTools holds may
    /// be stale: a PATCH can reach CallTools and the process die before its answer is recorded.
    /// Planning from the stale state could then find nothing to do while CallTools holds the
    /// dead process's write (a newer event that puts the contact back where the store says it
    /// is). So the CallTools contact is read back, and the plan starts from what it holds: the
    /// managed buckets, the tags leadsync tracks and the fields it last sent. One GET, only for
    /// contacts a crash interrupted. (A create cut off by a crash has its own intent and
    /// look-up by phone.)
    func verifyApplied(_ run: inout Run) async throws -> [AuditEntry] {
        guard recorder == nil, let id = run.applied.calltoolsId else { return [] }
        run.calls += 1
        guard let actual = try await calltools.contact(id: id) else {
            return [
                AuditEntry(
                    at: now(), kind: .call,
                    summary: "verified after an interrupted run: CallTools has no contact \(id)")
            ]
        }
        var verified = run.applied
        verified.buckets = actual.buckets.intersection(Set(resolution.buckets.values).union(run.applied.buckets))
        for tag in verified.tags.keys { verified.tags[tag] = actual.tags.contains(tag) }
        for slug in verified.fields.keys { verified.fields[slug] = actual.fields[slug] }
        guard verified != run.applied else {
            return [
                AuditEntry(
                    at: now(), kind: .call,
                    summary: "verified after an interrupted run: CallTools contact \(id) is as recorded")
            ]
        }
        run.applied = verified
        run.dirty = true
        return [
            AuditEntry(
                at: now(), kind: .call,
                summary:
                    "verified after an interrupted run: CallTools contact \(id) held a write whose answer was never "
                    + "recorded; planned from what it holds")
        ]
    }
}
