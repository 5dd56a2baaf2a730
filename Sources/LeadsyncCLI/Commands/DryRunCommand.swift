import LeadsyncCore
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncStore
import LeadsyncSync
import LeadsyncValues

/// `leadsync dry-run --rules RULES [FILE...]`: evaluates contacts or webhook payloads and prints
/// each decision. Writes nothing anywhere but stdout/stderr.
///
/// Input per file (or stdin): a JSON array of items, one JSON value (possibly pretty-printed),
/// or JSON Lines. JSON Lines are streamed in 1 MiB chunks, so memory stays flat whatever the
/// file size. A bad line gives an error object (or an error line) for that line and a non-zero
/// exit at the end; it never stops the run.
public struct DryRunCommand {
    public struct Options {
        public var json = false
        public var now: Timestamp
        public var catalog = CustomFieldCatalog.empty
        public var markedCustomer = false
        /// Bytes read at a time from each input.
        public var chunkSize = 1 << 20
        /// `--db`: evaluate against the real local state and show the calls it would make.
        public var database: LeadsyncDatabase?
        public init(now: Timestamp) { self.now = now }
    }

    let engine: Engine
    /// `--db`: the executor's own steps, run against a recorder, show the calls each contact
    /// would cost. Reads the database, writes nothing.
    var executor: Executor?
    let recorder: RecordingUpstream
    let rules: CompiledRules
    let options: Options
    let console: Console
    var errors = 0
    var contacts = 0
    var ignored = 0
    var writer = JSONWriter(capacity: 1 << 18)

    public static func run(rulesPath: String, inputs: [String], options: Options, console: Console) async -> Int32 {
        let rules: CompiledRules
        do {
            (_, rules) = try RulesFile.loadValid(rulesPath, console: console)
        } catch {
            console.err.line("leadsync: \(error.message)")
            console.err.flush()
            return 1
        }
        var command = DryRunCommand(
            engine: Engine(rules: rules), recorder: RecordingUpstream(rules: rules), rules: rules, options: options,
            console: console)
        if let db = options.database {
            do {
                let now = options.now
                command.executor = try Executor(rules: rules, store: db, recording: command.recorder, now: { now })
            } catch {
                console.err.line("leadsync: \(error)")
                console.err.flush()
                return 1
            }
        }
        for path in inputs.isEmpty ? ["-"] : inputs {
            do {
                try await command.process(FileInput(path: path))
            } catch {
                command.flushWriter()
                console.err.line("leadsync: \(error.message)")
                command.errors += 1
            }
        }
        command.flushWriter()
        if !options.json {
            console.out.line(
                "\(command.contacts) contact\(command.contacts == 1 ? "" : "s") evaluated, "
                    + "\(command.ignored) ignored, \(command.errors) error\(command.errors == 1 ? "" : "s")")
        }
        console.out.flush()
        if command.contacts == 0 {
            // Nothing evaluated is never a success: say why in one line.
            let why =
                command.ignored + command.errors == 0
                ? "the input held no contact"
                : "every input was ignored or invalid (\(command.ignored) ignored, \(command.errors) errors)"
            console.err.line("leadsync: no contact was evaluated: \(why)")
            console.err.flush()
            return 1
        }
        console.err.flush()
        return command.errors > 0 ? 1 : 0
    }

    mutating func evaluate(_ json: JSON, location: Location, name: String) async {
        // GHL's search response and the v1 list response (`{"contacts": [...], ...}`) as they
        // come: each item is a contact.
        if case .object(let object) = json, object["id"] == nil, object["contact_id"] == nil,
            case .array(let items)? = object["contacts"]
        {
            for (i, item) in items.enumerated() { await evaluate(item, location: location.item(i), name: name) }
            return
        }
        let inbound: InboundContact
        do {
            inbound = try InboundContact.decode(json, catalog: options.catalog, defaultEventType: "manual")
        } catch {
            if error.isIgnorableEvent {
                ignored += 1
                if options.json {
                    writer.raw("{")
                    writeLocation(location, name: name, first: true)
                    writer.key("status")
                    writer.raw("\"ignored\"")
                    writer.key("reason")
                    writer.string(error.message)
                    writer.raw("}\n")
                } else {
                    console.out.line("\(describe(location, name)): ignored: \(error.message)")
                }
                return
            }
            report(error: error.message, location: location, name: name)
            return
        }
        contacts += 1
        var state = ContactState(markedCustomer: options.markedCustomer)
        var applied = AppliedState.new
        if let db = options.database, let executor {
            do {
                let stored = try db.contact(inbound.contact.id)
                applied = stored.applied
                state = ContactState(
                    markedCustomer: stored.markedCustomer || options.markedCustomer,
                    buckets: await executor.bucketIndexes(applied.buckets))
            } catch {
                report(error: "\(error)", location: location, name: name)
                return
            }
        }
        var decision = engine.evaluate(inbound.contact, state: state, now: options.now, deleted: inbound.deleted)
        // Where this input would come from in production, and what that source may leave out: a
        // contact shaped like an API contact is taken as a search result (the source that omits
        // dndSettings), a webhook as its event.
        let source: ContactSource =
            switch inbound.shape {
            case .api: .search
            case .marketplace: .webhook(inbound.contact.eventType)
            case .workflow: rules.webhooks.trustWorkflowPayload ? .workflowPayload : .read
            }
        var calls: [String]?
        if let executor {
            do {
                // What the local state knows of other contacts with this phone holds here too.
                (decision, applied) = try await executor.withPhoneExclusions(
                    inbound.contact, decision, state: state, applied: applied, source: source)
                calls = recorder.describe(
                    try await executor.plannedCalls(decision, applied: applied, contact: inbound.contact))
            } catch {
                report(error: "\(error)", location: location, name: name)
                return
            }
        }
        let missing = rules.fieldsToComplete(inbound.contact, source: source, decision: decision)
        let reread =
            missing.isEmpty
            ? nil
            : "no \(missing.joined(separator: ", ")) here, and \(source) may leave it out: sync and serve re-read "
                + "this contact with GET /contacts/\(inbound.contact.id) before dialing, and decide again on what it says"
        write(decision, name: inbound.contact.displayName, reread: reread, calls: calls)
    }

    /// One decision: a JSON object per line (with `reread` and `calls` when there are any), or
    /// the human report.
    mutating func write(_ decision: Decision, name: String?, reread: String?, calls: [String]?) {
        if options.json {
            decision.writeJSON(into: &writer, rules: rules, name: name)
            if calls != nil || reread != nil {
                writer.bytes.removeLast()  // reopen the object to add "calls" / "reread"
                if let reread {
                    writer.key("reread")
                    writer.string(reread)
                }
                if let calls {
                    writer.key("calls")
                    writer.strings(calls)
                }
                writer.raw("}")
            }
            writer.raw("\n")
            if writer.bytes.count >= 1 << 18 { flushWriter() }
        } else {
            var text = decision.report(rules: rules, name: name)
            if let reread { text += "  completeness\n    \(reread)\n" }
            if let calls { text += "  calls\n" + (calls.isEmpty ? "    none\n" : calls.map { "    \($0)\n" }.joined()) }
            console.out.write(text)
            console.out.write("\n")
        }
    }

    func describe(_ location: Location, _ name: String) -> String {
        switch location {
        case .line(let n): return "\(name):\(n)"
        case .index(let i): return "\(name)[\(i)]"
        case .document: return name
        case .item(let outer, let i): return "\(describe(outer, name))[\(i)]"
        }
    }

    mutating func writeLocation(_ location: Location, name: String, first: Bool) {
        writer.key("input", first: first)
        writer.string(name)
        switch location {
        case .line(let n):
            writer.key("line")
            writer.number(Double(n))
        case .index(let i):
            writer.key("index")
            writer.number(Double(i))
        case .document: break
        case .item(let outer, let i):
            if case .line(let n) = outer {
                writer.key("line")
                writer.number(Double(n))
            } else if case .index(let n) = outer {
                writer.key("index")
                writer.number(Double(n))
            }
            writer.key("item")
            writer.number(Double(i))
        }
    }

    mutating func report(error message: String, location: Location, name: String) {
        errors += 1
        if options.json {
            writer.raw("{")
            writeLocation(location, name: name, first: true)
            writer.key("error")
            writer.string(message)
            writer.raw("}\n")
        } else {
            flushWriter()
            console.out.flush()
            console.err.line("\(describe(location, name)): error: \(message)")
        }
    }

    mutating func flushWriter() {
        if !writer.bytes.isEmpty {
            console.out.write(writer.bytes)
            writer.bytes.removeAll(keepingCapacity: true)
        }
    }
}
