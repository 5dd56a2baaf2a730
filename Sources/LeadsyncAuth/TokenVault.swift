import Crypto
import Foundation
import LeadsyncValues

/// Seals GHL token pairs for the database with ChaChaPoly (authenticated encryption), under a
/// key derived from `LEADSYNC_SECRET_KEY`. The file then holds no token in clear, and a row
/// changed on disk fails to open instead of yielding a forged token.
///
/// Rotation: the vault opens what the previous key sealed (`LEADSYNC_SECRET_KEY_PREVIOUS`) and
/// every save seals with the current key; `resealAll` moves every row at start.
public struct TokenVault: Sendable {
    /// What a sealed row holds, in clear only in memory.
    public struct Secret: Sendable, Equatable {
        public var accessToken: String
        public var refreshToken: String
        /// The access token's lifetime when issued (seconds), for refreshing ahead of expiry.
        public var lifetimeSeconds: Int

        public init(accessToken: String, refreshToken: String, lifetimeSeconds: Int) {
            self.accessToken = accessToken
            self.refreshToken = refreshToken
            self.lifetimeSeconds = lifetimeSeconds
        }
    }

    public struct Error: Swift.Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The least length of `LEADSYNC_SECRET_KEY` (a passphrase or 32 random bytes in base64).
    public static let minimumSecretLength = 32
    /// Sealed rows start with this byte (the format's version).
    static let format: UInt8 = 1

    let key: SymmetricKey
    let previous: SymmetricKey?

    /// A vault from the environment's secret(s); a short secret is a one-line error.
    public init(secret: String, previous: String? = nil) throws(Error) {
        key = try Self.derive(secret, name: "LEADSYNC_SECRET_KEY")
        if let previous {
            self.previous = try Self.derive(previous, name: "LEADSYNC_SECRET_KEY_PREVIOUS")
        } else {
            self.previous = nil
        }
    }

    /// The vault the environment configures; nil without `LEADSYNC_SECRET_KEY`.
    public static func fromEnvironment(_ env: [String: String]) throws(Error) -> TokenVault? {
        guard let secret = env["LEADSYNC_SECRET_KEY"].flatMap({ $0.isEmpty ? nil : $0 }) else { return nil }
        return try TokenVault(
            secret: secret, previous: env["LEADSYNC_SECRET_KEY_PREVIOUS"].flatMap { $0.isEmpty ? nil : $0 })
    }

    static func derive(_ secret: String, name: String) throws(Error) -> SymmetricKey {
        guard secret.utf8.count >= minimumSecretLength else {
            throw Error(
                message:
                    "\(name) must be at least \(minimumSecretLength) characters (e.g. `openssl rand -base64 32`)")
        }
        return HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)), salt: Array("leadsync".utf8),
            info: Array("ghl-token-vault-v1".utf8), outputByteCount: 32)
    }

    /// The secret sealed, bound to `key` (the row's key: a sealed pair moved to another
    /// location's row does not open).
    public func seal(_ secret: Secret, for rowKey: String) throws(Error) -> [UInt8] {
        var o = JSONObject()
        o["a"] = .string(secret.accessToken)
        o["r"] = .string(secret.refreshToken)
        o["l"] = .number(Double(secret.lifetimeSeconds))
        do {
            let box = try ChaChaPoly.seal(
                JSONWriter.encode(.object(o)).utf8Bytes, using: key, authenticating: Array(rowKey.utf8))
            return [Self.format] + Array(box.combined)
        } catch {
            throw Error(message: "cannot seal the GHL tokens")
        }
    }

    /// Opens a sealed row (with the current key, else the previous one). `rotated` says the
    /// previous key opened it (save it again to move it to the current key).
    public func open(_ bytes: [UInt8], for rowKey: String) throws(Error) -> (secret: Secret, rotated: Bool) {
        guard bytes.first == Self.format, let box = try? ChaChaPoly.SealedBox(combined: bytes.dropFirst()) else {
            throw Error(message: "the stored GHL tokens of \(rowKey) are not in a format this leadsync reads")
        }
        for (k, rotated) in [(key, false)] + (previous.map { [($0, true)] } ?? []) {
            guard let clear = try? ChaChaPoly.open(box, using: k, authenticating: Array(rowKey.utf8)),
                let json = try? JSONParser.parse(Array(clear)),
                let access = json["a"]?.stringValue, let refresh = json["r"]?.stringValue
            else { continue }
            var lifetime = 86_399
            if case .number(let n)? = json["l"], n.isFinite, n >= 1, n <= 366 * 86_400 { lifetime = Int(n) }
            return (Secret(accessToken: access, refreshToken: refresh, lifetimeSeconds: lifetime), rotated)
        }
        throw Error(
            message:
                "cannot open the stored GHL tokens of \(rowKey): LEADSYNC_SECRET_KEY is not the key they were sealed with "
                + "(set the old one as LEADSYNC_SECRET_KEY_PREVIOUS, or reconnect the location)")
    }
}

extension String {
    var utf8Bytes: [UInt8] { Array(utf8) }
}
