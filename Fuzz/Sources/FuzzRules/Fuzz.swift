import LeadsyncCore
import LeadsyncRules
import LeadsyncValues

/// The rules compiler on any text: diagnostics or compiled rules, never a crash; compiled rules
/// evaluate a contact.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let document = RulesCompiler.compile(source: text, file: "fuzz.yaml")
    if let rules = document.rules {
        let contact = Contact(id: "f1", eventType: "manual")
        _ = Engine(rules: rules).evaluate(contact, now: Timestamp(milliseconds: 1_800_000_000_000))
    }
    return 0
}
