import Logging
import Synchronization
import Testing

@testable import LeadsyncCLI

@Suite struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let all = Mutex<[String]>([])
    }

    @Test func oneJSONObjectPerLineWithTheRequestId() throws {
        let lines = Lines()
        var logger = Logger(label: "leadsync") { label in
            JSONLogHandler(label: label) { line in lines.all.withLock { $0.append(line) } }
        }
        logger[metadataKey: "hb.request.id"] = "abc123"
        logger.info(
            "webhook refused: bad \"sig\"", metadata: ["status": .stringConvertible(401), "path": "/webhook/ghl"])
        logger.debug("not at info level")
        let out = lines.all.withLock { $0 }
        #expect(out.count == 1)
        let line = try #require(out.first)
        #expect(line.hasSuffix("}\n"))
        #expect(line.filter { $0 == "\n" }.count == 1)
        #expect(line.hasPrefix(#"{"ts":""#))
        #expect(
            line.contains(
                #""level":"info","logger":"leadsync","msg":"webhook refused: bad \"sig\"","path":"/webhook/ghl","request_id":"abc123","status":"401"}"#
            ), "\(line)")
    }
}
