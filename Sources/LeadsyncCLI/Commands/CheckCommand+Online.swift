import LeadsyncAuth
import LeadsyncCore
import LeadsyncRules
import LeadsyncServer
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues

/// `leadsync check --online RULES...`: `check`, then each file against the accounts it names,
/// read with the usual credentials and paced like everything else. Reads only.
extension CheckCommand {
    public static func online(
        files: [String], environment: [String: String], dbPath: String, console: Console
    ) async -> Int32 {
        let offline = run(files: files, console: console)
        guard offline == 0 else { return offline }
        func fail(_ message: String) -> Int32 {
            console.err.line("leadsync: \(message)")
            console.err.flush()
            return 1
        }
        let settings: UpstreamSettings
        do {
            settings = try UpstreamSettings.fromEnvironment(environment)
        } catch {
            return fail(error.message)
        }
        // With OAuth, the tokens live in the database.
        var store: LeadsyncDatabase?
        if settings.oauth != nil {
            do {
                store = try LeadsyncDatabase.open(path: dbPath)
            } catch {
                return fail(error.description)
            }
        }
        defer { store?.close() }
        let http = HTTPClientHandle()
        let (ghl, calltools, app) = settings.clients(http: http.client, store: store)
        var failed = false
        do {
            if let app {
                await app.start()
                if let c = app.connections[settings.ghlLocationId], c.status.state != .connected {
                    throw CLIError(c.status.reason ?? "GHL location \(settings.ghlLocationId) is not connected")
                }
            }
            let (paths, _) = RulesFile.rulesFiles(files, console: Console(out: BufferOutput(), err: BufferOutput()))
            for path in paths {
                let file = try RulesFile.load(path)
                guard let rules = file.rules else { continue }
                let source = try FileInput.readText(path)
                let facts = try await gather(rules, ghl: ghl, calltools: calltools)
                let found = OnlineCheck.diagnose(source: source, file: path, rules: rules, facts: facts)
                let lines = source.split(separator: "\n", omittingEmptySubsequences: false)
                for d in found { console.err.line(d.rendered(sourceLines: lines)) }
                let errors = found.errorCount, warnings = found.warningCount
                if errors > 0 { failed = true }
                console.out.line(
                    "\(path): online: \(errors) error\(errors == 1 ? "" : "s"), \(warnings) warning\(warnings == 1 ? "" : "s") "
                        + "(\(facts.buckets.count) CallTools buckets, \(facts.contactsRead) CallTools contacts read for "
                        + "field slugs, \(facts.customFields?.definitions.count ?? 0) GHL custom fields)")
            }
        } catch let error as UpstreamError {
            failed = true
            _ = fail(error.description)
        } catch let error as CLIError {
            failed = true
            _ = fail(error.message)
        } catch {
            failed = true
            _ = fail("\(error)")
        }
        await http.shutdown()
        console.out.flush()
        console.err.flush()
        return failed ? 1 : 0
    }

    /// Reads what the rules name from both accounts.
    static func gather(_ rules: CompiledRules, ghl: GHLClient, calltools: CallToolsClient) async throws -> AccountFacts
    {
        var facts = AccountFacts()
        facts.buckets = try await calltools.buckets()
        var asked = Set<String>()
        for r in rules.rules {
            for t in r.calltoolsTags.add where asked.insert(t).inserted {
                if try await calltools.tag(named: t) != nil { facts.existingTags.insert(t) }
            }
        }
        // CallTools has no documented list of an account's fields: the keys of its contacts
        // stand for it (none to read: not checked).
        let page = try await calltools.contactsPage(1)
        if !page.contacts.isEmpty {
            facts.fieldSlugs = page.contacts.reduce(into: Set<String>()) { $0.formUnion($1.keys) }
            facts.contactsRead = page.contacts.count
        }
        if !OnlineCheck.conditionCustomFields(rules).isEmpty { facts.customFields = try await ghl.customFields() }
        for (tag, _, _) in OnlineCheck.conditionTags(rules) where !(try await ghl.carries(tag: tag)) {
            facts.uncarriedTags.insert(tag)
        }
        if !facts.uncarriedTags.isEmpty { facts.locationTags = try await ghl.locationTags() }
        return facts
    }
}
