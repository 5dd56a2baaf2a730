import LeadsyncIntake
import LeadsyncValues

/// Webhook intake on any bytes: the first byte picks what the signature check said (valid,
/// missing, invalid), the rest is the body. A verdict, never a crash. (The signature itself is
/// swift-crypto's to check: `WebhookVerifierTests` cover ours around it.)
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let check: SignatureCheck =
        switch bytes.first.map({ $0 % 3 }) {
        case 0: .valid
        case 1: .missing
        default: .invalid("fuzz")
        }
    let body = Array(bytes.dropFirst())
    _ = WebhookIntake.marketplace(body: body, signature: check, notBefore: Timestamp(milliseconds: 1_700_000_000_000))
    _ = WebhookIntake.envelope(body: body)
    _ = WebhookIntake.workflow(body: body)
    return 0
}
