import LeadsyncValues

/// The JSON parser and writer: any bytes parse or fail with an error, and what parses writes
/// back to text that parses to the same value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let value = try? JSONParser.parse(bytes) else { return 0 }
    let text = JSONWriter.encode(value)
    guard let again = try? JSONParser.parse(text), JSONWriter.encode(again) == text else {
        fatalError("JSON round trip changed the value: \(text)")
    }
    return 0
}
