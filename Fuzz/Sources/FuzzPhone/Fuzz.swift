import LeadsyncValues

/// The phone normaliser: any text gives E.164 or nil, and E.164 normalises to itself.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    for region in [PhoneRegion.us, PhoneRegion.known["DE"] ?? .us] {
        if let e164 = PhoneNumber.e164(text, region: region), PhoneNumber.e164(e164, region: region) != e164 {
            fatalError("E.164 is not stable: \(text) -> \(e164)")
        }
    }
    return 0
}
