import LeadsyncCore
import LeadsyncValues

/// The template parser and renderer: the first line of the input is a template, the rest a
/// contact (JSON); parsing fails with errors or the template renders.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let cut = bytes.firstIndex(of: 0x0A) ?? bytes.count
    let source = String(decoding: bytes[..<cut], as: UTF8.self)
    guard let template = Template.parse(source).template else { return 0 }
    var contact = Contact(id: "f1", eventType: "manual")
    if cut < bytes.count, let json = try? JSONParser.parse(Array(bytes[(cut + 1)...])),
        let inbound = try? InboundContact.decode(json)
    {
        contact = inbound.contact
    }
    _ = template.render(contact, region: .us, note: { _ in })
    return 0
}
