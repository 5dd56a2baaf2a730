import LeadsyncCore
import LeadsyncRules
import LeadsyncRuntime
import LeadsyncSandbox
import LeadsyncServer
import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import LeadsyncWebhooks
import Logging
import ServiceLifecycle
import UnixSignals

/// `leadsync serve --rules R [--sandbox]`: the production webhook server (product.md §3).
public enum ServeCommand {
    public struct Options: Sendable {
        public var rulesPath: String
        public var dbPath: String
        public var host: String?
        public var port: Int?
        /// Run against an in-process sandbox whose GHL emits signed webhooks to this server.
        public var sandbox: Bool
        public var sandboxContacts: Int
        /// A locations file (`leadsync.yaml`): every location it lists, behind one listener.
        public var configPath: String?
        public init(
            rulesPath: String, dbPath: String, host: String?, port: Int?, sandbox: Bool, sandboxContacts: Int,
            configPath: String? = nil
        ) {
            self.configPath = configPath
            self.rulesPath = rulesPath
            self.dbPath = dbPath
            self.host = host
            self.port = port
            self.sandbox = sandbox
            self.sandboxContacts = sandboxContacts
        }
    }

    public static func run(
        _ options: Options, environment: [String: String], console: Console, now: @escaping @Sendable () -> Timestamp
    ) async -> Int32 {
        let logger = Logger(label: "leadsync")
        func fail(_ message: String) -> Int32 {
            console.err.line("leadsync: \(message)")
            console.err.flush()
            return 1
        }
        var configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration.fromEnvironment(environment)
        } catch {
            return fail(error.description)
        }
        if let host = options.host { configuration.host = host }
        if let port = options.port { configuration.port = port }
        if let configPath = options.configPath {
            guard !options.sandbox else { return fail("--sandbox runs one location; it cannot be used with --config") }
            return await serveLocations(
                configPath, options: options, configuration: configuration, environment: environment, logger: logger,
                console: console, now: now, fail: fail)
        }
        // The rules must check before anything starts.
        do {
            _ = try RulesFile.loadValid(options.rulesPath, console: console)
        } catch {
            return fail(error.message)
        }

        let http = HTTPClientHandle()
        var sandbox: SandboxServer?
        var emitter: SandboxWebhookEmitter?
        let settings: UpstreamSettings
        let verifier: WebhookVerifier
        do {
            if options.sandbox {
                let state = SandboxState()
                await SandboxCommand.seed(state, count: options.sandboxContacts)
                let server = try await SandboxServer.start(state: state)
                let e = SandboxWebhookEmitter(client: http.client, logger: logger)
                await state.setWebhookSink(e.accept)
                sandbox = server
                emitter = e
                settings = UpstreamSettings.sandbox(server, state: state)
                verifier = try WebhookVerifier(ed25519PEM: e.publicKeyPEM)
                console.err.line(
                    "leadsync: sandbox GHL and CallTools on \(server.baseURL); its GHL signs webhooks with a key this server trusts"
                )
                console.err.line(
                    "  export GHL_BASE_URL=\(server.baseURL) GHL_API_KEY=\(state.ghlToken) GHL_LOCATION_ID=\(state.locationId)"
                )
            } else {
                settings = try UpstreamSettings.fromEnvironment(environment)
                verifier = try WebhookVerifier.fromEnvironment(environment)
            }
        } catch let error as UpstreamSettings.Error {
            await http.shutdown()
            return fail(error.message)
        } catch let error as CLIError {
            await http.shutdown()
            return fail(error.message)
        } catch {
            await http.shutdown()
            return fail("\(error)")
        }

        let code = await serve(
            options, configuration: configuration, settings: settings, verifier: verifier, emitter: emitter,
            http: http, logger: logger, console: console, now: now, fail: fail)
        await sandbox?.stop()
        await http.shutdown()
        return code
    }

    static func serve(
        _ options: Options, configuration: ServerConfiguration, settings: UpstreamSettings, verifier: WebhookVerifier,
        emitter: SandboxWebhookEmitter?, http: HTTPClientHandle, logger: Logger, console: Console,
        now: @escaping @Sendable () -> Timestamp, fail: (String) -> Int32
    ) async -> Int32 {
        let store: LeadsyncDatabase
        do {
            store = try LeadsyncDatabase.open(path: options.dbPath)
        } catch {
            return fail(error.description)
        }
        defer { store.close() }
        let server: LeadsyncServer
        do {
            server = try LeadsyncServer.build(
                ServerSetup(
                    configuration: configuration, rulesPath: options.rulesPath, store: store, upstreams: settings,
                    verifier: verifier, http: http.client, logger: logger, now: now))
        } catch let error as LiveRules.Rejected {
            return fail(error.message)
        } catch {
            return fail("\(error)")
        }
        let live = server.rules
        let app = server.application(extraServices: emitter.map { [$0] } ?? []) { port in
            emitter?.setTarget("http://127.0.0.1:\(port)/webhook/ghl")
            logger.info(
                "listening",
                metadata: [
                    "address": .string("\(configuration.host):\(port)"), "rules": .string(options.rulesPath),
                    "hash": .string(live.current.hash), "database": .string(options.dbPath),
                    "admin": .string(configuration.adminToken == nil ? "disabled" : "enabled"),
                    "workflow": .string(configuration.workflowSecret == nil ? "disabled" : "enabled"),
                ])
            if !["127.0.0.1", "::1", "localhost"].contains(configuration.host) {
                logger.warning(
                    """
                    listening on \(configuration.host), beyond this machine, in plain HTTP: put a TLS-terminating \
                    proxy in front (docs/operations.md, "Run the server")
                    """)
            }
        }
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            return fail("server stopped: \(error)")
        }
        logger.info("stopped; the database is closed and queued events resume on restart")
        return 0
    }
}

extension ServeCommand {
    /// `serve --config leadsync.yaml`: every location of the file in one process.
    static func serveLocations(
        _ path: String, options: Options, configuration: ServerConfiguration, environment: [String: String],
        logger: Logger, console: Console, now: @escaping @Sendable () -> Timestamp, fail: (String) -> Int32
    ) async -> Int32 {
        let file: LocationsFile
        let verifier: WebhookVerifier
        do {
            file = try LocationsFile.load(path, env: environment)
            verifier = try WebhookVerifier.fromEnvironment(environment)
        } catch let error as LocationsFile.Error {
            return fail(error.description)
        } catch let error as CLIError {
            return fail(error.message)
        } catch {
            return fail("\(error)")
        }
        // Every location's rules must check before anything starts or any file is created.
        for location in file.locations {
            do {
                _ = try RulesFile.loadValid(location.rulesPath, console: console)
            } catch {
                return fail("location \(location.id): \(error.message)")
            }
        }
        let store: LeadsyncDatabase
        do {
            store = try LeadsyncDatabase.open(path: options.dbPath)
        } catch {
            return fail(error.description)
        }
        defer { store.close() }
        let http = HTTPClientHandle()
        let appliance: Appliance
        do {
            appliance = try Appliance.build(
                file: file, configuration: configuration, store: store, verifier: verifier, http: http.client,
                logger: logger, now: now)
        } catch {
            await http.shutdown()
            return fail("\(error)")
        }
        let app = appliance.application { port in
            logger.info(
                "listening",
                metadata: [
                    "address": .string("\(configuration.host):\(port)"), "locations": .string(path),
                    "served": .string(file.locations.map(\.id).joined(separator: ",")),
                    "database": .string(options.dbPath),
                ])
        }
        let group = ServiceGroup(
            configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        var code: Int32 = 0
        do {
            try await group.run()
        } catch {
            code = fail("server stopped: \(error)")
        }
        await http.shutdown()
        logger.info("stopped; the database is closed and queued events resume on restart")
        return code
    }
}

extension UpstreamSettings {
    /// Pointed at an in-process sandbox, with its limits as budgets.
    static func sandbox(_ server: SandboxServer, state: SandboxState) -> UpstreamSettings {
        UpstreamSettings(
            ghlToken: state.ghlToken, ghlLocationId: state.locationId, ghlBaseURL: server.baseURL,
            calltoolsKey: state.calltoolsKey, calltoolsBaseURL: server.baseURL, ghlRate: (100, 10),
            calltoolsRate: (1000, 3600))
    }
}
