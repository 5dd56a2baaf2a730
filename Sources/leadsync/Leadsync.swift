import ArgumentParser
import LeadsyncCLI
import LeadsyncCore

#if canImport(Glibc)
import Glibc
#endif

@main
struct Leadsync: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leadsync",
        abstract: "Routes GoHighLevel contacts into CallTools buckets by a YAML rules file.",
        subcommands: [Check.self, Test.self, DryRun.self]
    )
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
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(milliseconds: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }
}

extension Leadsync {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate rules files; print every problem with its line and column.")

        @Argument(help: "Rules files.")
        var rules: [String]

        func validate() throws {
            if rules.isEmpty { throw ValidationError("name at least one rules file") }
        }

        func run() throws {
            let code = CheckCommand.run(files: rules, console: .standard)
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

        func validate() throws {
            if rules.isEmpty { throw ValidationError("name at least one rules file") }
        }

        func run() throws {
            let code = TestCommand.run(files: rules, now: try time.resolve(), verbose: verbose, console: .standard)
            if code != 0 { throw ExitCode(code) }
        }
    }

    struct DryRun: ParsableCommand {
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

        @OptionGroup var time: TimeOptions

        func run() throws {
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
            let code = DryRunCommand.run(rulesPath: rules, inputs: inputs, options: options, console: .standard)
            if code != 0 { throw ExitCode(code) }
        }
    }
}
