import LeadsyncCore
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues

extension Executor {

    /// Re-reads a contact whose source may have left out `missing`, before it is dialled.
    func complete(
        _ contact: Contact, missing: [String], source: ContactSource
    ) async throws -> (contact: Contact, deleted: Bool, entry: AuditEntry) {
        let why = "\(source) may leave out \(missing.joined(separator: ", "))"
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
                AuditEntry(at: now(), kind: .reread, summary: "re-read before dialing (\(why)): gone from GHL")
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
        let found = missing.map { key in
            "\(key) " + (read.field(key).map { JSONWriter.encode($0) } ?? "absent there too")
        }
        return (
            read, false,
            AuditEntry(
                at: now(), kind: .reread,
                summary: "re-read before dialing (\(why)): " + found.joined(separator: "; "))
        )
    }

}
