import LeadsyncCore
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues

extension Executor {

    /// Re-reads a contact whose source may have left out `missing`, before it is dialled.
    func complete(
        _ contact: Contact, missing: [String], source: ContactSource
    ) async throws -> (contact: Contact, deleted: Bool, entry: AuditEntry) {
        try await reread(
            contact, why: "\(source) may leave out \(missing.joined(separator: ", "))", title: "re-read before dialing"
        ) { read in
            missing.map { key in "\(key) " + (read.field(key).map { JSONWriter.encode($0) } ?? "absent there too") }
                .joined(separator: "; ")
        }
    }

    /// Re-reads a contact whose data is older than the state already applied for it: a search
    /// page read before a webhook for the same contact was applied (GHL's search index lags
    /// writes, so the page may not show that change yet). Acting on it would roll the contact
    /// back, and could put a contact who has just asked not to be called back into a bucket.
    func refresh(
        _ contact: Contact, source: ContactSource, observedAt: Timestamp, appliedFrom: Timestamp
    ) async throws -> (contact: Contact, deleted: Bool, entry: AuditEntry) {
        try await reread(
            contact,
            why: "\(source) data of \(observedAt.iso8601) is older than the state applied from \(appliedFrom.iso8601)",
            title: "re-read before acting"
        ) { _ in "decided on what GHL holds now" }
    }

    /// `GET /contacts/{id}`, decoded, with an audit entry `title (why): found(contact)`. Gone from
    /// GHL: an empty contact and `deleted`. A failed read is a transient failure: the contact
    /// waits, nothing is done on the data it had.
    func reread(
        _ contact: Contact, why: String, title: String, found: (Contact) -> String
    ) async throws -> (contact: Contact, deleted: Bool, entry: AuditEntry) {
        guard let ghl else {
            throw Failure(
                contactId: contact.id,
                message: "not dialled: \(why), and there is no GHL client to re-read the contact", transient: true)
        }
        let fresh: JSON
        do {
            fresh = try await ghl.contact(contact.id)
        } catch let error as UpstreamError where error.meansContactGone {
            return (
                Contact(id: contact.id, eventType: contact.eventType), true,
                AuditEntry(at: now(), kind: .reread, summary: "\(title) (\(why)): gone from GHL")
            )
        } catch {
            throw Failure(
                contactId: contact.id,
                message: "not dialled yet: \(why), and re-reading it failed: \(error)",
                transient: true, upstreamDown: (error as? UpstreamError).flatMap { $0.isCircuitOpen ? $0.service : nil }
            )
        }
        let catalog = rules.usesCustomFields ? try await catalogs?.covering([fresh]) : nil
        let read: Contact
        do {
            read = try InboundContact.decode(
                fresh, catalog: catalog ?? .empty, defaultEventType: contact.eventType, expecting: .api
            ).contact
        } catch {
            throw Failure(contactId: contact.id, message: "re-read contact: \(error.message)", transient: false)
        }
        return (read, false, AuditEntry(at: now(), kind: .reread, summary: "\(title) (\(why)): \(found(read))"))
    }

}
