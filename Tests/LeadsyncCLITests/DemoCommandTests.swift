import Foundation
import LeadsyncCore
import LeadsyncValues
import Testing

@testable import LeadsyncCLI

/// The README's main command: the whole pipeline on the sandbox, in process.
@Suite struct DemoCommandTests {
    @Test func demoEndsWithEveryContactWhereTheRulesSay() async {
        let out = BufferOutput()
        let err = BufferOutput()
        let code = await DemoCommand.run(
            rulesPath: nil, dbPath: nil, console: Console(out: out, err: err),
            now: { Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)) })
        #expect(code == 0, "\(out.text)\(err.text)")
        #expect(out.text.contains("demo: every contact ended where the rules say."))
        #expect(out.text.contains(" ✓ demo04   cold lead        none"))
        #expect(out.text.contains("settled                         yes"))
        #expect(!out.text.contains(" ✗ "))
    }
}
