import Foundation
import LeadsyncCore
import LeadsyncStore
import LeadsyncSync
import LeadsyncValues
import Testing

@testable import LeadsyncCLI

@Suite struct DryRunTests {
    func run(
        _ inputs: [String], json: Bool = true, catalog: CustomFieldCatalog = .empty
    ) async -> (code: Int32, out: String, err: String) {
        var options = DryRunCommand.Options(now: fixedNow)
        options.json = json
        options.catalog = catalog
        return await capture {
            await DryRunCommand.run(rulesPath: coldLeads, inputs: inputs, options: options, console: $0)
        }
    }

    func objects(_ text: String) throws -> [JSON] {
        try text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }

    @Test func jsonLinesGiveOneObjectPerContactInOrder() async throws {
        let r = await run([root + "/examples/contacts.jsonl"])
        #expect(r.code == 0)
        let out = try objects(r.out)
        #expect(out.map { $0["contact_id"]?.stringValue } == (1...10).map { "k\($0)" })
        let buckets = out.map { $0["buckets"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        #expect(
            buckets == [["cold_leads"], ["cold_leads"], [], [], ["active_clients"], [], [], [], ["cold_leads"], []])
        let excluded = out.map { $0["excluded_by"]?.arrayValue?.compactMap(\.stringValue) ?? [] }
        #expect(excluded == [[], [], [], ["customer"], [], ["no-phone"], ["do-not-call"], ["no-phone"], [], []])
        #expect(out[3]["marked_customer"] == .bool(true))
        #expect(
            out[4]["calltools_tags"]
                == .object(
                    JSONObject([
                        "add": .array([.string("ACA Active client")]),
                        "remove": .array([.string("ACA Cold lead")]),
                    ])))
    }

    @Test func goldenJSONForOneContact() async throws {
        let dir = try TempDir()
        let file = try dir.write(
            "one.json", #"{"id":"c1","firstName":"Ana","phone":"(415) 555-0132","tags":["Cold Lead"]}"#)
        let r = await run([file])
        #expect(r.code == 0)
        #expect(
            r.out == #"""
                {"contact_id":"c1","name":"Ana","event":"manual","buckets":["cold_leads"],"rules":["cold-lead"],"excluded_by":[],"fields":{"first_name":"Ana","mobile_phone_number":"+14155550132","crm_id":"c1"},"calltools_tags":{"add":["ACA Cold lead"],"remove":[]},"ghl_tags":{"add":[],"remove":[]},"marked_customer":false,"kept_current_buckets":false,"deleted":false,"trace":{"exclusions":[{"name":"marked-customer","matched":false},{"name":"customer","matched":false},{"name":"no-phone","matched":false},{"name":"do-not-call","matched":false}],"rules":[{"name":"active-client","outcome":"not_matched","reason":"not matched: tags any_of [\"ACA Active 2025\", \"ACA Active 2026\"] does not hold (line 53:13)"},{"name":"customer-tag","outcome":"not_matched","reason":"not matched: tags any_matches /\\b(customers?|clients?|purchased)\\b|\\bwon($|[^\\w'])/ does not hold (line 64:13)"},{"name":"cold-lead","outcome":"applied"}],"notes":[]},"reread":"no dndSettings here, and GHL search may leave it out: sync and serve re-read this contact with GET /contacts/c1 before dialing, and decide again on what it says"}

                """#)
    }

    /// GHL's search response as it comes (`{"contacts": [...], "total": N}`), every contact with
    /// its own `type`: each is evaluated, none is taken for an event.
    @Test func aSearchResponseIsEvaluatedContactByContact() async throws {
        let dir = try TempDir()
        let file = try dir.write(
            "search.json",
            #"""
            {"contacts":[
              {"id":"s1","type":"lead","phone":"+14155550132","tags":["cold lead"],"dnd":false,"dndSettings":{"Call":{"status":"inactive"}},"searchAfter":[1,"s1"]},
              {"id":"s2","type":"customer","phone":"+14155550133","tags":["cold lead"],"dnd":false,"dndSettings":{"Call":{"status":"active"}}},
              {"id":"s3","type":"lead","firstName":null,"phone":null,"tags":[]}
            ],"total":3}
            """#)
        let r = await run([file], json: false)
        #expect(r.code == 0)
        #expect(r.out.contains("3 contacts evaluated, 0 ignored, 0 errors"))
        #expect(r.out.contains("s1  (manual)"))
        #expect(r.out.contains("excluded by      do-not-call"))
        #expect(!r.out.contains("completeness"))
        let j = await run([file])
        #expect(j.out.split(separator: "\n").count == 3)
        #expect(j.out.hasPrefix(#"{"contact_id":"s1""#))
    }

    /// Nothing evaluated is a failure with one line that says why.
    @Test func nothingEvaluatedExitsOneWithAReason() async throws {
        let dir = try TempDir()
        let file = try dir.write(
            "events.jsonl",
            #"{"type":"OpportunityCreate","id":"o1","locationId":"l","webhookId":"w1"}"# + "\n")
        let r = await run([file], json: false)
        #expect(r.code == 1)
        #expect(r.out.contains("ignored: event type 'OpportunityCreate' does not concern contacts"))
        #expect(
            r.err.hasSuffix(
                "leadsync: no contact was evaluated: every input was ignored or invalid (1 ignored, 0 errors)\n"))
        let empty = try dir.write("empty.json", "  \n")
        let e = await run([empty], json: false)
        #expect(e.code == 1)
        #expect(e.err.hasSuffix("leadsync: no contact was evaluated: the input held no contact\n"))
    }

    @Test func goldenHumanOutput() async throws {
        let dir = try TempDir()
        let file = try dir.write("one.json", #"{"id":"c9","phone":"4155550101","tags":["customer","cold"]}"#)
        let r = await run([file], json: false)
        #expect(r.code == 0)
        #expect(
            r.out == """
                c9  (manual)
                  buckets          -
                  rules            customer-tag
                  excluded by      customer
                  fields           first_name="Unknown" mobile_phone_number="+14155550101" crm_id="c9"
                  calltools tags   -ACA Cold lead
                  ghl tags         -
                  marked customer  yes (new)
                  trace
                    exclusion marked-customer  no
                    exclusion customer         matched
                    exclusion no-phone         no
                    exclusion do-not-call      no
                    rule active-client         not matched: tags any_of ["ACA Active 2025", "ACA Active 2026"] does not hold (line 53:13)
                    rule customer-tag          applied
                    rule cold-lead             not evaluated: rule 'customer-tag' applied with stop: true

                1 contact evaluated, 0 ignored, 0 errors

                """)
    }

    @Test func aBadLineIsAnErrorObjectAndTheRunGoesOn() async throws {
        let dir = try TempDir()
        let file = try dir.write(
            "mixed.jsonl",
            """
            {"id":"a","phone":"4155550100","tags":["cold"]}
            {"id":"b", oops}

            [1,2]
            {"firstName":"no id"}
            {"type":"OpportunityCreate","id":"o1","locationId":"l"}
            {"id":"c","phone":"4155550101","tags":["prospect"]}
            """)
        let r = await run([file])
        #expect(r.code == 1)
        let out = try objects(r.out)
        #expect(out.count == 6)
        #expect(out[0]["contact_id"] == .string("a"))
        #expect(
            out[1]
                == .object(
                    JSONObject([
                        "input": .string(file), "line": .number(2),
                        "error": .string("invalid JSON at column 12: expected a string key, found character 'o'"),
                    ])))
        #expect(out[2]["line"] == .number(4))
        #expect(out[2]["error"] == .string("expected a JSON object, found array"))
        #expect(out[3]["error"] == .string("no contact id ('id')"))
        #expect(out[4]["status"] == .string("ignored"))
        #expect(out[5]["contact_id"] == .string("c"))
    }

    @Test func humanModeReportsBadLinesOnStderr() async throws {
        let dir = try TempDir()
        let file = try dir.write("bad.jsonl", "{\"id\":\"a\",\"tags\":[]}\nnot json\n")
        let r = await run([file], json: false)
        #expect(r.code == 1)
        #expect(r.err == "\(file):2: error: invalid JSON at column 1: invalid literal (expected true, false or null)\n")
        #expect(r.out.hasSuffix("1 contact evaluated, 0 ignored, 1 error\n"))
    }

    @Test func arraysAndPrettyDocuments() async throws {
        let dir = try TempDir()
        let array = try dir.write(
            "a.json",
            """
            [
              {"id": "a", "phone": "4155550100", "tags": ["cold"]},
              {"contact": {"id": "b", "phone": "4155550101", "tags": ["ACA Active 2025"]}},
              7
            ]
            """)
        let pretty = try dir.write(
            "p.json",
            """
            {
              "id": "p",
              "phone": "4155550102",
              "tags": ["new lead"]
            }
            """)
        let r = await run([array, pretty])
        #expect(r.code == 1)
        let out = try objects(r.out)
        #expect(
            out.map { $0["contact_id"]?.stringValue ?? $0["error"]?.stringValue } == [
                "a", "b", "expected a JSON object, found number", "p",
            ])
        #expect(out[2]["index"] == .number(2))
    }

    @Test func everyExamplePayloadRoutes() async throws {
        let catalog = try CustomFieldCatalog(
            ghlResponse: try JSONParser.parse(
                try String(contentsOfFile: root + "/examples/custom-fields.json", encoding: .utf8)))
        let files = [
            "webhook-contact-create", "webhook-contact-update", "webhook-contact-tag-update",
            "webhook-contact-dnd-update", "webhook-contact-delete", "webhook-workflow", "contact-api",
        ]
        let r = await run(files.map { root + "/examples/\($0).json" }, catalog: catalog)
        #expect(r.code == 0)
        let out = try objects(r.out)
        #expect(
            out.map { $0["event"]?.stringValue ?? "" } == [
                "ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactDndUpdate", "ContactDelete", "workflow",
                "manual",
            ])
        #expect(out.map { $0["buckets"]?.arrayValue?.count ?? -1 } == [1, 1, 1, 0, 0, 1, 1])
        #expect(out[3]["excluded_by"] == .array([.string("do-not-call")]))
        #expect(out[4]["deleted"] == .bool(true))
        #expect(out[6]["buckets"] == .array([.string("active_clients")]))
    }

    @Test func brokenRulesStopBeforeReadingInput() async throws {
        let dir = try TempDir()
        let rules = try dir.write("r.yaml", "version: 1\n")
        var options = DryRunCommand.Options(now: fixedNow)
        options.json = true
        let r = await capture {
            await DryRunCommand.run(rulesPath: rules, inputs: ["/nonexistent"], options: options, console: $0)
        }
        #expect(r.code == 1)
        #expect(r.out == "")
        #expect(r.err.hasSuffix("leadsync: \(rules): 2 error(s); fix them first (leadsync check \(rules))\n"))
    }

    @Test func aMissingInputFileIsReportedAndTheOthersStillRun() async throws {
        let r = await run(["/nonexistent.jsonl", root + "/examples/webhook-contact-create.json"])
        #expect(r.code == 1)
        #expect(r.err == "leadsync: cannot read '/nonexistent.jsonl': No such file or directory\n")
        #expect(try objects(r.out).count == 1)
    }

    @Test(arguments: [7, 64, 1 << 20])
    func streamsAcrossChunkBoundaries(chunk: Int) async throws {
        let dir = try TempDir()
        var text = ""
        for i in 0..<300 {
            text +=
                #"{"id":"c\#(i)","phone":"+1415555\#(String(format: "%04d", i))","tags":["cold lead"]}"#
                + (i % 7 == 0 ? "\r\n" : "\n")
        }
        text += #"{"id":"last","tags":[]}"#  // no final newline
        let file = try dir.write("big.jsonl", text)
        var options = DryRunCommand.Options(now: fixedNow)
        options.json = true
        options.chunkSize = chunk
        let r = await capture {
            await DryRunCommand.run(rulesPath: coldLeads, inputs: [file], options: options, console: $0)
        }
        #expect(r.code == 0)
        let ids = try objects(r.out).map { $0["contact_id"]?.stringValue ?? "?" }
        #expect(ids == (0..<300).map { "c\($0)" } + ["last"])
    }
}

/// The real executable: argument errors and exit codes.
@Suite struct ExecutableTests {
    static var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/leadsync"
    }

    func exec(_ args: [String], stdin: String? = nil) throws -> (code: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = args
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func binaryWasBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build with: swift build --build-tests")
    }

    @Test func exitCodes() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build with: swift build --build-tests")
        #expect(try exec(["check", coldLeads]).code == 0)
        #expect(try exec(["check", "/nonexistent.yaml"]).code == 1)
        #expect(try exec(["test", coldLeads]).out.hasSuffix("21 passed, 0 failed\n"))
        let badFlag = try exec(["dry-run", "--rules", coldLeads, "--colour"])
        #expect(badFlag.code == 64)
        #expect(badFlag.err.hasPrefix("Error: Unknown option '--colour'"))
        let badNow = try exec(["dry-run", "--rules", coldLeads, "--now", "yesterday"])
        #expect(badNow.code == 64)
        #expect(badNow.err.hasPrefix("Error: --now 'yesterday' is not an ISO-8601 time"))
        let missingRules = try exec(["dry-run"])
        #expect(missingRules.code == 64)
    }

    @Test func dryRunReadsStdin() throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary), "build with: swift build --build-tests")
        let r = try exec(
            ["dry-run", "--json", "--rules", coldLeads, "-"],
            stdin: #"{"id":"s1","phone":"4155550100","tags":["cold"]}"# + "\n" + "{bad\n")
        #expect(r.code == 1)
        let lines = r.out.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix(#"{"contact_id":"s1","#))
        #expect(
            lines[1]
                == #"{"input":"<stdin>","line":2,"error":"invalid JSON at column 2: expected a string key, found character 'b'"}"#
        )
    }
}

@Suite struct DryRunDatabaseTests {
    @Test func dryRunWithTheDatabaseShowsTheCallsAndWritesNothing() async throws {
        let dir = try TempDir()
        let path = dir.path + "/leadsync.sqlite"
        do {
            let db = try LeadsyncDatabase.open(path: path)
            try db.saveResolution(buckets: [:], tags: ["ACA Cold lead": 7, "ACA Active client": 8], at: fixedNow)
            try db.recordOutcome(
                "k1",
                state: AppliedState(
                    calltoolsId: 1001,
                    fields: [
                        "first_name": "Ana", "last_name": "Silva", "mobile_phone_number": "+14155550132",
                        "personal_email_address": "ana@example.com", "crm_id": "k1",
                    ], buckets: [11237], tags: [7: true]), audit: [], completing: [], at: fixedNow)
        }
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        var options = DryRunCommand.Options(now: fixedNow)
        options.json = true
        options.database = try LeadsyncDatabase.openReadOnly(path: path)
        let input = try dir.write(
            "in.jsonl",
            """
            {"id":"k1","firstName":"Ana","lastName":"Silva","phone":"(415) 555-0132","email":"Ana@Example.com","tags":["Cold Lead"]}
            {"id":"k1","firstName":"Ana","lastName":"Silva","phone":"(415) 555-0132","email":"Ana@Example.com","tags":["ACA Active 2026"]}
            {"id":"n1","phone":"4155550100","tags":["cold lead"]}
            """)
        let r = await capture {
            await DryRunCommand.run(rulesPath: coldLeads, inputs: [input], options: options, console: $0)
        }
        #expect(r.code == 0)
        let calls = try r.out.split(separator: "\n").map { try JSONParser.parse(String($0))["calls"] }
        #expect(calls[0] == .array([]))
        #expect(
            calls[1]
                == .array([
                    .string(
                        #"PATCH /api/contacts/1001/ {"add_buckets":[11252],"remove_buckets":[11237],"add_tags":[8],"remove_tags":[7]}"#
                    )
                ]))
        #expect(
            calls[2]
                == .array([
                    .string("GET /api/contacts/?phone_number=+14155550100"),
                    .string(
                        #"POST /api/contacts/ {"first_name":"Unknown","mobile_phone_number":"+14155550100","crm_id":"n1","buckets":[11237],"tags":[7]} (if the lookup finds none)"#
                    ),
                ]))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    /// The local state knows that another contact with this phone said "do not call": dry-run
    /// --db shows the contact excluded by it, with the note, and plans no call.
    @Test func aPhoneAnotherContactExcludedIsExcludedHere() async throws {
        let dir = try TempDir()
        let path = dir.path + "/leadsync.sqlite"
        do {
            let db = try LeadsyncDatabase.open(path: path)
            try db.saveResolution(buckets: [:], tags: ["ACA Cold lead": 7, "ACA Active client": 8], at: fixedNow)
            try db.setPhoneRecord(
                "dnc", PhoneRecord(phone: "+14155550132", exclusions: ["do-not-call"], complete: true), at: fixedNow)
        }
        var options = DryRunCommand.Options(now: fixedNow)
        options.json = true
        options.database = try LeadsyncDatabase.openReadOnly(path: path)
        let input = try dir.write(
            "in.jsonl",
            """
            {"id":"k2","phone":"(415) 555-0132","tags":["cold lead"],"dnd":false,"dndSettings":{"Call":{"status":"inactive"}}}
            {"id":"k3","phone":"(415) 555-0133","tags":["cold lead"],"dnd":false,"dndSettings":{"Call":{"status":"inactive"}}}
            """)
        let r = await capture {
            await DryRunCommand.run(rulesPath: coldLeads, inputs: [input], options: options, console: $0)
        }
        #expect(r.code == 0, "\(r.err)")
        let lines = try r.out.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        #expect(lines[0]["buckets"] == .array([]))
        #expect(lines[0]["excluded_by"] == .array([.string("do-not-call")]))
        #expect(lines[0]["calls"] == .array([]))
        #expect(
            lines[0]["trace"]?["notes"]
                == .array([.string("exclusion 'do-not-call' matched GHL contact dnc, which has the same phone")]))
        #expect(lines[1]["buckets"] == .array([.string("cold_leads")]))
    }

    /// With ids not yet known, the plan runs the executor's own steps against the recorder:
    /// the tag look-ups first, then the create with named placeholders, and nothing is written.
    @Test func unknownIdsArePlannedWithNamedPlaceholders() async throws {
        let dir = try TempDir()
        let path = dir.path + "/leadsync.sqlite"
        _ = try LeadsyncDatabase.open(path: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        var options = DryRunCommand.Options(now: fixedNow)
        options.json = true
        options.database = try LeadsyncDatabase.openReadOnly(path: path)
        let input = try dir.write("in.jsonl", #"{"id":"n1","phone":"4155550100","tags":["cold lead"]}"# + "\n")
        let r = await capture {
            await DryRunCommand.run(rulesPath: coldLeads, inputs: [input], options: options, console: $0)
        }
        #expect(r.code == 0, "\(r.err)")
        let calls = try JSONParser.parse(String(r.out.split(separator: "\n")[0]))["calls"]?.arrayValue ?? []
        let lines = calls.compactMap(\.stringValue)
        #expect(lines.first?.hasPrefix("GET /api/alltags/?name=") == true, "\(lines)")
        #expect(lines.contains("GET /api/contacts/?phone_number=+14155550100"))
        #expect(
            lines.last
                == #"POST /api/contacts/ {"first_name":"Unknown","mobile_phone_number":"+14155550100","crm_id":"n1","buckets":[11237],"tags":["<tag aca cold lead>"]} (if the lookup finds none)"#,
            "\(lines)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }
}
