import Foundation
import LeadsyncValues
import LeadsyncWebhooks
import Yams

/// `leadsync.yaml`: the GHL locations one appliance serves, each with its rules, its GHL auth,
/// its CallTools account and its budgets. Secrets are never in the file: it names the
/// environment variables that hold them. docs/operations.md, "Several locations", is the
/// reference; server settings (port, secrets, workers) stay in the environment.
///
/// ```yaml
/// locations:
///   - id: ve9EPM428h8vShlRW1KT        # the GHL location id
///     name: East office                # optional, for people
///     rules: rules/east.yaml           # relative to this file
///     ghl:
///       token_env: EAST_GHL_TOKEN      # a Private Integration token; or `oauth: true`
///       rate_limit: 100/10             # optional
///     calltools:
///       key_env: EAST_CALLTOOLS_KEY
///       base_url: https://east.calltools.io
///       rate_limit: 1000/3600          # optional; locations on one key share one budget
///     existing_data: true              # optional: takes the rows of single-location mode
/// ```
public struct LocationsFile: Sendable {
    public struct Location: Sendable {
        public var id: String
        public var name: String?
        public var rulesPath: String
        public var upstreams: UpstreamSettings
        /// The CallTools account: silo and key, fingerprinted (never the key itself).
        public var account: String
        /// Takes the rows written in single-location mode (`claimUnscopedRows`).
        public var existingData: Bool
        /// The environment as a single-location command sees this location (its token, key,
        /// URLs and rates as `GHL_*` and `CALLTOOLS_*`).
        public var environment: [String: String]
    }

    public var path: String
    public var locations: [Location]

    /// One line naming the file, the line and what is wrong.
    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    /// The location `id`, or the only one when `id` is nil; a one-line error otherwise.
    public func location(_ id: String?) throws(Error) -> Location {
        if let id {
            guard let l = locations.first(where: { $0.id == id }) else {
                throw Error(
                    description:
                        "\(path): no location '\(id)'; configured: \(locations.map(\.id).joined(separator: ", "))")
            }
            return l
        }
        guard locations.count == 1, let only = locations.first else {
            throw Error(
                description:
                    "\(path) configures \(locations.count) locations; say which with --location (one of: \(locations.map(\.id).joined(separator: ", ")))"
            )
        }
        return only
    }

    static let idCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

    /// Reads and checks the file. Every variable it names must be set in `env`; shared upstream
    /// settings (retries, breakers, OAuth app, secret key) come from `env` as in single-location
    /// mode.
    public static func load(_ path: String, env: [String: String]) throws(Error) -> LocationsFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Error(description: "cannot read '\(path)'")
        }
        guard data.count <= 1 << 20 else { throw Error(description: "\(path): over 1 MiB; is this the right file?") }
        let node: Node?
        do {
            node = try Yams.compose(yaml: String(decoding: data, as: UTF8.self))
        } catch {
            throw Error(
                description: "\(path): not YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
        func fail(_ at: Node?, _ message: String) -> Error {
            let line = at?.mark.map { ":\($0.line)" } ?? ""
            return Error(description: "\(path)\(line): \(message)")
        }
        guard let root = node?.mapping else { throw fail(node, "expected a mapping with a 'locations' list") }
        try known(root, ["locations"], fail)
        guard let list = root["locations"]?.sequence, !list.isEmpty else {
            throw fail(root["locations"] ?? node, "'locations' must be a non-empty list")
        }
        guard list.count <= 100 else { throw fail(root["locations"], "at most 100 locations") }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        var out: [Location] = []
        for item in list {
            guard let m = item.mapping else { throw fail(item, "each location must be a mapping") }
            try known(m, ["id", "name", "rules", "ghl", "calltools", "existing_data"], fail)
            func string(
                _ m: Node.Mapping, _ key: String, _ context: String, required: Bool = true
            ) throws(Error)
                -> String?
            {
                guard let v = m[key] else {
                    if required { throw fail(item, "\(context)'\(key)' is required") }
                    return nil
                }
                guard let s = v.scalar?.string, !s.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw fail(v, "\(context)'\(key)' must be a non-empty string")
                }
                return s.trimmingCharacters(in: .whitespaces)
            }
            // cannot be nil: required
            guard let id = try string(m, "id", "") else { continue }
            guard id.count <= 64, id.allSatisfy({ idCharacters.contains($0) }) else {
                throw fail(m["id"], "location id '\(id.prefix(80))' must be 1-64 letters, digits, '-' or '_'")
            }
            guard !out.contains(where: { $0.id == id }) else { throw fail(m["id"], "location '\(id)' is listed twice") }
            let prefix = "location \(id): "
            guard let rules = try string(m, "rules", prefix) else { continue }
            let rulesPath = rules.hasPrefix("/") ? rules : base.appendingPathComponent(rules).path
            guard let ghl = m["ghl"]?.mapping else { throw fail(m["ghl"] ?? item, "\(prefix)'ghl' must be a mapping") }
            try known(ghl, ["token_env", "oauth", "base_url", "rate_limit"], fail)
            guard let ct = m["calltools"]?.mapping else {
                throw fail(m["calltools"] ?? item, "\(prefix)'calltools' must be a mapping")
            }
            try known(ct, ["key_env", "base_url", "rate_limit"], fail)
            let oauth = ghl["oauth"]?.bool ?? false
            if ghl["oauth"] != nil, ghl["oauth"]?.bool == nil {
                throw fail(ghl["oauth"], "\(prefix)'ghl.oauth' must be true or false")
            }
            func variable(_ m: Node.Mapping, _ key: String, _ what: String) throws(Error) -> String {
                guard let name = try string(m, key, prefix) else { return "" }
                guard let value = env[name]?.trimmedASCII, !value.isEmpty else {
                    throw fail(m[key], "\(prefix)\(key): the variable \(name) (\(what)) is not set")
                }
                return value
            }
            var overlay = env
            overlay["GHL_LOCATION_ID"] = id
            if oauth {
                guard env["GHL_CLIENT_ID"]?.trimmedASCII.isEmpty == false else {
                    throw fail(ghl["oauth"], "\(prefix)ghl.oauth needs GHL_CLIENT_ID (the Marketplace app) to be set")
                }
                guard ghl["token_env"] == nil else {
                    throw fail(ghl["token_env"], "\(prefix)give ghl.token_env or ghl.oauth, not both")
                }
            } else {
                overlay["GHL_CLIENT_ID"] = nil
                overlay["GHL_API_KEY"] = try variable(ghl, "token_env", "the GHL Private Integration token")
            }
            overlay["GHL_BASE_URL"] = try string(ghl, "base_url", prefix, required: false) ?? env["GHL_BASE_URL"]
            overlay["GHL_RATE_LIMIT"] = try string(ghl, "rate_limit", prefix, required: false) ?? env["GHL_RATE_LIMIT"]
            overlay["CALLTOOLS_API_KEY"] = try variable(ct, "key_env", "the CallTools API key")
            overlay["CALLTOOLS_BASE_URL"] = try string(ct, "base_url", prefix, required: false)
            overlay["CALLTOOLS_RATE_LIMIT"] =
                try string(ct, "rate_limit", prefix, required: false) ?? env["CALLTOOLS_RATE_LIMIT"]
            let upstreams: UpstreamSettings
            do {
                upstreams = try UpstreamSettings.fromEnvironment(overlay)
            } catch {
                throw fail(item, "\(prefix)\(error.message)")
            }
            let existing = m["existing_data"]?.bool ?? false
            if m["existing_data"] != nil, m["existing_data"]?.bool == nil {
                throw fail(m["existing_data"], "\(prefix)'existing_data' must be true or false")
            }
            out.append(
                Location(
                    id: id, name: try string(m, "name", prefix, required: false), rulesPath: rulesPath,
                    upstreams: upstreams,
                    account: Fingerprint.of(upstreams.calltoolsBaseURL + "\n" + upstreams.calltoolsKey),
                    existingData: existing, environment: overlay))
        }
        guard out.filter(\.existingData).count <= 1 else {
            throw fail(root["locations"], "only one location can take the existing data ('existing_data: true')")
        }
        return LocationsFile(path: path, locations: out)
    }

    static func known(_ m: Node.Mapping, _ keys: Set<String>, _ fail: (Node?, String) -> Error) throws(Error) {
        for (k, _) in m {
            guard let name = k.scalar?.string, keys.contains(name) else {
                throw fail(
                    k,
                    "unknown key '\(k.scalar?.string.prefix(60) ?? "?")'; expected one of: \(keys.sorted().joined(separator: ", "))"
                )
            }
        }
    }
}
