import LeadsyncValues

/// The payload decoder: any JSON (webhook envelopes, API contacts, workflow payloads) decodes
/// to a contact or fails with a reason.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let json = try? JSONParser.parse(bytes) else { return 0 }
    let catalog = CustomFieldCatalog([.init(id: "cf1", key: "score", name: "Score")])
    for expecting: InboundContact.Shape? in [nil, .api, .marketplace, .workflow] {
        if let inbound = try? InboundContact.decode(json, catalog: catalog, defaultEventType: "x", expecting: expecting)
        {
            _ = inbound.contact.field("phone")
            _ = inbound.contact.tags
        }
    }
    return 0
}
