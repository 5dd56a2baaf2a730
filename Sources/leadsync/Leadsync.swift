import ArgumentParser
import LeadsyncCLI
import LeadsyncCore
import LeadsyncRuntime
import LeadsyncServer
import LeadsyncStore
import LeadsyncValues
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

@main
struct Leadsync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leadsync",
        abstract: "Routes GoHighLevel contacts into CallTools buckets by a YAML rules file.",
        subcommands: [
            Check.self, Test.self, DryRun.self, Serve.self, Demo.self, Sync.self, Stats.self, Explain.self,
            MarkCustomer.self, Replay.self, Sandbox.self, GHL.self, Plan.self,
        ]
    )
}

/// `--db`, else `LEADSYNC_DB`, else `./leadsync.sqlite`.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "The SQLite file (default: $LEADSYNC_DB, else ./leadsync.sqlite).")
    var db: String?

    @Option(help: "The GHL location to act on, from the locations file (needed when it lists more than one).")
    var location: String?

    @Option(help: "The locations file (default: $LEADSYNC_CONFIG); without one, the single-location variables.")
    var config: String?

    var path: String { db ?? ProcessInfoLite.environment["LEADSYNC_DB"] ?? "./leadsync.sqlite" }

    /// The locations file named by `--config` or `LEADSYNC_CONFIG`, if any.
    var configPath: String? {
        config ?? ProcessInfoLite.environment["LEADSYNC_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The environment this command runs with. With a locations file, it is the chosen
    /// location's (its GHL and CallTools settings as the single-location variables), and the
    /// database is seen as that location's rows only.
    func environment() throws -> [String: String] {
        let env = ProcessInfoLite.environment
        guard let file = configPath else {
            if location != nil {
                throw ValidationError("--location needs a locations file: --config or LEADSYNC_CONFIG")
            }
            return env
        }
        do {
            let chosen = try LocationsFile.load(file, env: env).location(location)
            LeadsyncDatabase.commandScope.withLock { $0 = (chosen.id, chosen.account) }
            return chosen.environment
        } catch {
            throw ValidationError(error.description)
        }
    }
}

enum ProcessInfoLite {
    static var environment: [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") { env[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
            p += 1
        }
        return env
    }
}

func clockNow() -> Timestamp {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
}

/// The evaluation time: `--now` when given, else the clock.
struct TimeOptions: ParsableArguments {
    @Option(help: "Evaluate as of this ISO-8601 time instead of now (e.g. 2026-01-31T12:00:00Z).")
    var now: String?

    func resolve() throws -> Timestamp {
        if let now {
            guard let t = Timestamp(iso8601: now) else {
                throw ValidationError("--now '\(now)' is not an ISO-8601 time (e.g. 2026-01-31T12:00:00Z)")
            }
            return t
        }
        return clockNow()
    }
}

extension Leadsync {
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate rules files; print every problem with its line and column.")

        @Argument(help: "Rules files.")
        var rules: [String]

        @Flag(help: "Also check the buckets, tags and fields the rules name against the accounts (reads only).")
        var online = false

        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if rules.isEmpty { throw ValidationError("name at least one rules file") }
        }

        func run() async throws {
            let code =
                online
                ? await CheckCommand.online(
                    files: rules, environment: try database.environment(), dbPath: database.path, console: .standard)
                : CheckCommand.run(files: rules, console: .standard)
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Test: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the rules files' tests (inline 'tests:' and NAME.tests.yaml).")

        @Argument(help: "Rules files.")
        var rules: [String]

        @OptionGroup var time: TimeOptions

        @Flag(name: .shortAndLong, help: "Also list passing tests.")
        var verbose = false

        @Flag(help: "Print which rules and exclusions the tests reach, and those none does.")
        var coverage = false

        @Option(help: "Fail when the tests reach fewer than this percent of the rules and exclusions.")
        var minCoverage: Double?

        func validate() throws {
            if rules.isEmpty { throw ValidationError("name at least one rules file") }
            if let m = minCoverage, !(0...100).contains(m) {
                throw ValidationError("--min-coverage must be a percent from 0 to 100")
            }
        }

        func run() throws {
            let code = TestCommand.run(
                files: rules, now: try time.resolve(), verbose: verbose, coverage: coverage, minCoverage: minCoverage,
                console: .standard)
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct DryRun: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dry-run",
            abstract: "Evaluate contacts or webhook payloads and print each decision with its trace; writes nothing.")

        @Option(help: "The rules file.")
        var rules: String

        @Argument(help: "JSON object, JSON array or JSON Lines files of GHL contacts or webhooks; '-' or none = stdin.")
        var inputs: [String] = []

        @Flag(help: "One JSON object per input contact, in input order.")
        var json = false

        @Option(
            name: .customLong("custom-fields"),
            help: "GHL custom field definitions (the JSON of GET /locations/{id}/customFields) to map ids to keys.")
        var customFields: String?

        @Flag(name: .customLong("marked-customer"), help: "Evaluate as if every contact were marked a customer.")
        var markedCustomer = false

        @Option(help: "Evaluate against this leadsync database (read-only) and print the calls sync would make.")
        var db: String?

        @OptionGroup var time: TimeOptions

        func run() async throws {
            var options = DryRunCommand.Options(now: try time.resolve())
            options.json = json
            options.markedCustomer = markedCustomer
            if let customFields {
                do {
                    let text = try FileInput.readText(customFields)
                    options.catalog = try CustomFieldCatalog(ghlResponse: try JSONParser.parse(text))
                } catch let error as CLIError {
                    throw ValidationError(error.message)
                } catch {
                    throw ValidationError("\(customFields): \(error)")
                }
            }
            if let db {
                guard FileInput.exists(db) else { throw ValidationError("--db '\(db)': no such database") }
                do {
                    options.database = try LeadsyncDatabase.openReadOnly(path: db)
                } catch {
                    throw ValidationError("\(error)")
                }
            }
            let code = await DryRunCommand.run(rulesPath: rules, inputs: inputs, options: options, console: .standard)
            if code != 0 { throw ExitCode(code) }
        }
    }
}

extension Leadsync {
    struct Sync: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One batch/reconcile pass: GHL contacts into CallTools buckets by the rules.",
            discussion: """
                Reads GHL_API_KEY, GHL_LOCATION_ID, CALLTOOLS_API_KEY (and GHL_BASE_URL, CALLTOOLS_BASE_URL, \
                GHL_RATE_LIMIT, CALLTOOLS_RATE_LIMIT). Incremental by default: contacts updated since the last \
                finished pass. Resumes an interrupted pass from its checkpoint.
                """)

        @Option(help: "The rules file.")
        var rules: String

        @Flag(help: "Every contact, not only those updated since the last pass.")
        var full = false

        @Option(help: "Contacts updated since this ISO-8601 time.")
        var since: String?

        @Flag(name: .customLong("dry-run"), help: "Print the planned creates, updates and removals; write nothing.")
        var dryRun = false

        @Option(help: "Contacts processed at once.")
        var concurrency = 8

        @Option(
            name: .customLong("max-wait"),
            help: "The longest the pass waits at its end for creates to settle and faults to pass (90s, 5m, 1h).")
        var maxWait = "5m"

        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if SyncCommand.parseWait(maxWait) == nil {
                throw ValidationError("--max-wait '\(maxWait)' is not a duration (e.g. 90s, 5m, 1h; at most 24h)")
            }
            if full && since != nil { throw ValidationError("--full and --since exclude each other") }
            if let since, Timestamp(iso8601: since) == nil {
                throw ValidationError("--since '\(since)' is not an ISO-8601 time (e.g. 2026-01-31T12:00:00Z)")
            }
            if concurrency < 1 || concurrency > 256 { throw ValidationError("--concurrency must be 1 to 256") }
        }

        func run() async throws {
            let mode: SyncPass.Mode = full ? .full : .incremental(since: since.flatMap(Timestamp.init(iso8601:)))
            var options = SyncCommand.Options(
                rulesPath: rules, dbPath: database.path, mode: mode, dryRun: dryRun, concurrency: concurrency)
            options.maxWait = SyncCommand.parseWait(maxWait) ?? .seconds(300)
            let code = await SyncCommand.run(
                options,
                environment: try database.environment(), console: .standard, now: { clockNow() })
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Plan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What a rules edit would do to the contacts the database knows, before you deploy it.")
        @Option(help: "The new rules file.") var rules: String
        @Option(help: "Compare with this file instead of the live rules the database records.")
        var against: String?
        @Flag(help: "One JSON object.") var json = false
        @Option(help: "Exit 1 when more contacts than this would change buckets (a CI guard).")
        var maxMoves: Int?
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var time: TimeOptions
        func run() throws {
            var options = PlanCommand.Options(rulesPath: rules, against: against, dbPath: database.path)
            options.json = json
            options.maxMoves = maxMoves
            let code = PlanCommand.run(
                options, environment: try database.environment(), console: .standard, now: try time.resolve())
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct GHL: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ghl", abstract: "The GHL Marketplace app's OAuth connection.",
            subcommands: [Connect.self, Status.self])

        struct Connect: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Exchanges an install's authorization code and stores the tokens, sealed.")
            @Option(help: "The code GHL sent to the app's redirect URL.") var code: String
            @Option(help: "Location (a sub-account install) or Company (an agency install).")
            var userType = "Location"
            @OptionGroup var database: DatabaseOptions
            func run() async throws {
                guard ["Location", "Company"].contains(userType) else {
                    throw ValidationError("--user-type must be Location or Company")
                }
                let code = await GHLCommands.connect(
                    code: code, userType: userType, dbPath: database.path,
                    environment: try database.environment(), console: .standard)
                if code != 0 { throw ExitCode(code) }
            }
        }

        struct Status: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Each stored connection's state; exit 1 when one must be reconnected.")
            @OptionGroup var database: DatabaseOptions
            func run() throws {
                _ = try database.environment()
                let code = GHLCommands.status(dbPath: database.path, console: .standard)
                if code != 0 { throw ExitCode(code) }
            }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Counts from the local state.")
        @Flag(help: "One JSON object.") var json = false
        @OptionGroup var database: DatabaseOptions
        func run() throws {
            _ = try database.environment()
            let code = StoreCommands.stats(dbPath: database.path, json: json, console: .standard)
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A contact's audit trail: decisions, calls, outcomes.")
        @Argument(help: "The GHL contact id.") var ghlContactId: String
        @OptionGroup var database: DatabaseOptions
        func run() throws {
            _ = try database.environment()
            let code = StoreCommands.explain(ghlContactId, dbPath: database.path, console: .standard)
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct MarkCustomer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mark-customer",
            abstract:
                "Mark a contact a customer (it leaves managed buckets when next processed); --undo removes the mark.")
        @Argument(help: "The GHL contact id.") var ghlContactId: String
        @Flag(help: "Remove the mark.") var undo = false
        @OptionGroup var database: DatabaseOptions
        func run() throws {
            _ = try database.environment()
            let code = StoreCommands.markCustomer(
                ghlContactId, undo: undo, dbPath: database.path, now: clockNow(),
                console: .standard)
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Sandbox: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the emulated GHL and CallTools on a local port, seeded with contacts.")
        @Option(help: "Address to listen on.") var host = "127.0.0.1"
        @Option(help: "Port (0: any free port).") var port = 8090
        @Option(help: "GHL contacts to seed.") var contacts = 100
        @Option(
            name: .customLong("location-id"),
            help: "The GHL location this sandbox is (run several, one per location, to try a locations file).")
        var locationId = "sandboxLocation0001"
        @Flag(name: .customLong("lift-limits"), help: "No rate limits (benchmarks).") var liftLimits = false
        @Flag(
            name: .customLong("search-omits-dnd"),
            help: "Answer contact searches without dndSettings, as GHL users report (GET still has them).")
        var searchOmitsDnd = false
        @Option(
            name: .customLong("search-lag-ms"),
            help:
                "Milliseconds a GHL write takes to show in contact searches (GHL: \"a few seconds\"); GET has it at once."
        )
        var searchLagMs = 0
        @Option(
            name: .customLong("calltools-faults"),
            help: "CallTools faults as shares of requests: 500s, 429s (Retry-After: 1), resets, e.g. 0.3,0.05,0.05.")
        var calltoolsFaults: String?
        @Option(
            name: .customLong("calltools-latency-ms"),
            help: "Milliseconds CallTools takes to answer after performing a request (crash tests).")
        var calltoolsLatencyMs = 0
        @Option(
            name: .customLong("calltools-outage"),
            help: "AFTER,FOR seconds: CallTools answers 503 to everything from AFTER s after start, for FOR s.")
        var calltoolsOutage: String?
        /// `AFTER,FOR` in whole seconds, each 0 to 86,400.
        static func outage(_ text: String) -> (after: Duration, lasting: Duration)? {
            let parts = text.split(separator: ",").map { Int(String($0).trimmedASCII) }
            guard parts.count == 2, let after = parts[0], let lasting = parts[1], (0...86_400).contains(after),
                (1...86_400).contains(lasting)
            else { return nil }
            return (.seconds(after), .seconds(lasting))
        }
        func validate() throws {
            guard (1...64).contains(locationId.count),
                locationId.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
            else {
                throw ValidationError("--location-id must be 1-64 letters, digits, '-' or '_'")
            }
            if let calltoolsOutage, Self.outage(calltoolsOutage) == nil {
                throw ValidationError(
                    "--calltools-outage '\(calltoolsOutage)' must be AFTER,FOR in whole seconds (FOR at least 1), e.g. 10,1800"
                )
            }
            guard (0...600_000).contains(searchLagMs) else {
                throw ValidationError("--search-lag-ms must be 0 to 600000; got \(searchLagMs)")
            }
            guard (0...60_000).contains(calltoolsLatencyMs) else {
                throw ValidationError("--calltools-latency-ms must be 0 to 60000; got \(calltoolsLatencyMs)")
            }
            if let calltoolsFaults, SandboxCommand.faults(calltoolsFaults) == nil {
                throw ValidationError(
                    "--calltools-faults '\(calltoolsFaults)' must be three shares 0...1 adding up to at most 1")
            }
        }
        func run() async throws {
            let code = await SandboxCommand.run(
                host: host, port: port, contacts: contacts, liftLimits: liftLimits, searchOmitsDnd: searchOmitsDnd,
                searchLagMs: Int64(searchLagMs), calltoolsFaults: calltoolsFaults.flatMap(SandboxCommand.faults),
                calltoolsLatency: .milliseconds(calltoolsLatencyMs),
                calltoolsOutage: calltoolsOutage.flatMap(Self.outage), locationId: locationId, console: .standard)
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The webhook server: intake, workers, scheduled reconcile, admin endpoints, metrics.",
            discussion: """
                Configured by the environment (GHL_*, CALLTOOLS_*, LEADSYNC_*; see docs/operations.md). \
                SIGHUP reloads the rules; SIGTERM or SIGINT stops gracefully.
                """)
        @Option(help: "The rules file (single-location mode; with --config each location names its own).")
        var rules: String?
        @Option(help: "Address to listen on (default: $LEADSYNC_HOST, else 127.0.0.1).") var host: String?
        @Option(help: "Port (default: $LEADSYNC_PORT, else 8080; 0: any free port).") var port: Int?
        @Flag(help: "Run against a built-in sandbox GHL and CallTools; its GHL sends this server signed webhooks.")
        var sandbox = false
        @Option(help: "GHL contacts to seed the sandbox with.") var sandboxContacts = 100
        @OptionGroup var logging: LoggingOptions
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            logging.bootstrap()
            if database.location != nil {
                throw ValidationError("serve runs every location of the file; --location is for the other commands")
            }
            guard rules != nil || database.configPath != nil else {
                throw ValidationError("give --rules (one location) or --config (a locations file)")
            }
            let code = await ServeCommand.run(
                .init(
                    rulesPath: rules ?? "", dbPath: database.path, host: host, port: port, sandbox: sandbox,
                    sandboxContacts: sandboxContacts, configPath: database.configPath),
                environment: ProcessInfoLite.environment, console: .standard, now: { clockNow() })
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "The whole pipeline on the built-in sandbox: tags contacts in sandbox GHL and shows them reach CallTools."
        )
        @Option(help: "A rules file to use instead of the built-in demo rules.") var rules: String?
        @Option(help: "Keep the demo's database here (default: a temporary file, removed afterwards).") var db: String?
        @OptionGroup var logging: LoggingOptions

        func run() async throws {
            logging.bootstrap(defaultLevel: .warning)
            let code = await DemoCommand.run(rulesPath: rules, dbPath: db, console: .standard, now: { clockNow() })
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Requeue dead letters (all, --seq N, or --since T); --list shows them.")
        @Option(help: "Only this event (its number in --list).") var seq: Int64?
        @Option(help: "Only events received since this ISO-8601 time.") var since: String?
        @Flag(help: "List dead letters instead.") var list = false
        @OptionGroup var database: DatabaseOptions

        func validate() throws {
            if let since, Timestamp(iso8601: since) == nil {
                throw ValidationError("--since '\(since)' is not an ISO-8601 time (e.g. 2026-01-31T12:00:00Z)")
            }
        }

        func run() throws {
            _ = try database.environment()
            let code = StoreCommands.replay(
                seq: seq, since: since.flatMap(Timestamp.init(iso8601:)), list: list, dbPath: database.path,
                now: clockNow(), console: .standard)
            if code != 0 { throw ExitCode(code) }
        }
    }
}

/// `--log-format json|text`, `--log-level`.
struct LoggingOptions: ParsableArguments {
    @Option(help: "json or text.") var logFormat: String = "json"
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String?

    func validate() throws {
        guard LogSetup.Format(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format must be json or text, not '\(logFormat)'")
        }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func bootstrap(defaultLevel: Logger.Level = .info) {
        LogSetup.bootstrap(
            format: LogSetup.Format(rawValue: logFormat) ?? .json,
            level: logLevel.flatMap(Logger.Level.init(rawValue:)) ?? defaultLevel)
    }
}
