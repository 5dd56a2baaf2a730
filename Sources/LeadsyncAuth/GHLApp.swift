import LeadsyncStore
import LeadsyncUpstream
import LeadsyncValues
import Synchronization

/// The Marketplace app's side of OAuth for one appliance: installs (an authorization code from
/// the redirect or `leadsync ghl connect`), agency installs minting location tokens, uninstalls,
/// and one `GHLConnection` per configured location.
public final class GHLApp: Sendable {
    public let oauth: GHLOAuthClient
    let store: LeadsyncDatabase
    let vault: TokenVault
    let now: @Sendable () -> Timestamp
    let onEvent: @Sendable (GHLConnection.Event) -> Void
    /// By location id: the locations this appliance serves.
    public let connections: [String: GHLConnection]
    private let companies = Mutex<[String: GHLConnection]>([:])

    public struct InstallError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// `breakers`: each configured location's GHL circuit breaker (held open while it is not
    /// connected).
    public init(
        oauth: GHLOAuthClient, store: LeadsyncDatabase, vault: TokenVault, breakers: [String: CircuitBreaker?],
        now: @escaping @Sendable () -> Timestamp, onEvent: @escaping @Sendable (GHLConnection.Event) -> Void = { _ in }
    ) {
        self.oauth = oauth
        self.store = store
        self.vault = vault
        self.now = now
        self.onEvent = onEvent
        var connections: [String: GHLConnection] = [:]
        let companyLookup = Mutex<GHLApp?>(nil)
        for (location, breaker) in breakers {
            connections[location] = GHLConnection(
                locationId: location, store: store, vault: vault, oauth: oauth, breaker: breaker,
                company: { id in await companyLookup.withLock { $0 }?.company(id) }, now: now, onEvent: onEvent)
        }
        self.connections = connections
        companyLookup.withLock { $0 = self }
    }

    /// Reads every stored connection (at start; see `GHLConnection.start`).
    public func start() async {
        for c in connections.values { await c.start() }
    }

    /// The agency connection for `companyId`, if one was installed (started on first use).
    func company(_ companyId: String) async -> GHLConnection? {
        let key = GHLConnectionRecord.companyKey(companyId)
        if let c = companies.withLock({ $0[key] }) { return c }
        guard (try? store.connection(key)) != nil else { return nil }
        let made = GHLConnection(
            locationId: companyId, store: store, vault: vault, oauth: oauth, breaker: nil, rowKey: key, now: now,
            onEvent: onEvent)
        let (c, fresh) = companies.withLock { list -> (GHLConnection, Bool) in
            if let c = list[key] { return (c, false) }
            list[key] = made
            return (made, true)
        }
        if fresh { await c.start() }
        return c
    }

    /// An install's code exchanged and committed. A location install connects that location
    /// (it must be configured here); an agency install keeps the agency's token and mints a
    /// token for every configured location it can. Returns the locations connected.
    public func install(code: String, userType: String = "Location") async throws(InstallError) -> [String] {
        let grant: OAuthGrant
        do {
            grant = try await oauth.exchange(code: code, userType: userType)
        } catch {
            throw InstallError(description: "the code was not accepted: \(error)")
        }
        return try await connect(grant)
    }

    /// Commits a grant GHL issued (see `install`).
    public func connect(_ grant: OAuthGrant) async throws(InstallError) -> [String] {
        if grant.userType == "Company" {
            guard let companyId = grant.companyId else {
                throw InstallError(description: "GHL's answer names no company for an agency install")
            }
            let key = GHLConnectionRecord.companyKey(companyId)
            let agency = GHLConnection(
                locationId: companyId, store: store, vault: vault, oauth: oauth, breaker: nil, rowKey: key, now: now,
                onEvent: onEvent)
            do {
                try await agency.connect(grant)
            } catch {
                throw InstallError(description: "cannot store the agency's tokens: \(error)")
            }
            companies.withLock { $0[key] = agency }
            var connected: [String] = []
            var failures: [String] = []
            for (location, c) in connections.sorted(by: { $0.key < $1.key }) {
                do {
                    try await c.connect(try await agency.mint(for: location))
                    connected.append(location)
                } catch {
                    failures.append("\(location): \(error)")
                }
            }
            if connected.isEmpty {
                throw InstallError(
                    description: "the agency install reached none of this appliance's locations"
                        + (failures.isEmpty ? "" : " (\(failures.joined(separator: "; ")))"))
            }
            return connected
        }
        guard let location = grant.locationId else {
            throw InstallError(description: "GHL's answer names no location")
        }
        guard let c = connections[location] else {
            throw InstallError(description: "location \(location) is not configured in this appliance")
        }
        do {
            try await c.connect(grant)
        } catch {
            throw InstallError(description: "cannot store the tokens: \(error)")
        }
        return [location]
    }

    /// An `INSTALL` event for a configured location: when it has no working token and an agency
    /// token is stored for its company, one is minted. Returns whether it is connected.
    public func installed(location: String, companyId: String?) async -> Bool {
        guard let c = connections[location] else { return false }
        if c.status.state == .connected { return true }
        guard let companyId, let agency = await company(companyId),
            let grant = try? await agency.mint(for: location)
        else { return false }
        return (try? await c.connect(grant)) != nil
    }

    /// An `UNINSTALL` event: the location's tokens are erased and its GHL work stops.
    public func uninstalled(location: String) async {
        await connections[location]?.uninstall()
    }
}
