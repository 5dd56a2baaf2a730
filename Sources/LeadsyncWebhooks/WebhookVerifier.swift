import Crypto
import CryptoExtras
import Foundation

/// Verifies GHL marketplace webhook signatures over the exact raw body bytes (upstreams.md):
/// Ed25519 in `x-ghl-signature` when present, else RSA-SHA256 PKCS#1 v1.5 in `x-wh-signature`.
/// Neither header, or a signature that does not verify, is a refusal: it fails closed.
public struct WebhookVerifier: Sendable {
    public enum Scheme: String, Sendable {
        case ed25519
        case rsa
    }

    public enum Outcome: Sendable, Equatable {
        case valid(Scheme)
        /// Neither `x-ghl-signature` nor `x-wh-signature`.
        case missingSignature
        /// A signature that is malformed or does not match the body.
        case invalid(Scheme, reason: String)
    }

    /// GHL's Ed25519 webhook key, as published (check it against GHL's Webhook Integration Guide
    /// before a release; override with `GHL_WEBHOOK_ED25519_PUBLIC_KEY`).
    public static let ghlEd25519PEM = """
        -----BEGIN PUBLIC KEY-----
        MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
        -----END PUBLIC KEY-----
        """

    /// GHL's legacy RSA webhook key, from GHL's documentation (override with
    /// `GHL_WEBHOOK_RSA_PUBLIC_KEY`).
    public static let ghlRSAPEM = """
        -----BEGIN PUBLIC KEY-----
        MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
        Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
        dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
        csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
        uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
        3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
        J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
        IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
        h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
        HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
        PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
        T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
        -----END PUBLIC KEY-----
        """

    let ed25519: Curve25519.Signing.PublicKey
    let rsa: _RSA.Signing.PublicKey

    /// A key that does not load, named by the variable it came from.
    public struct KeyError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public init(ed25519PEM: String = ghlEd25519PEM, rsaPEM: String = ghlRSAPEM) throws(KeyError) {
        do {
            ed25519 = try Curve25519.Signing.PublicKey(pemRepresentation: ed25519PEM)
        } catch {
            throw KeyError(description: "the Ed25519 webhook key is not a PEM Ed25519 public key")
        }
        do {
            rsa = try _RSA.Signing.PublicKey(pemRepresentation: rsaPEM)
        } catch {
            throw KeyError(description: "the RSA webhook key is not a PEM RSA public key (2048 bits or more)")
        }
    }

    /// Keys from `GHL_WEBHOOK_ED25519_PUBLIC_KEY` and `GHL_WEBHOOK_RSA_PUBLIC_KEY`: PEM text, or
    /// the path of a PEM file; GHL's published keys when unset.
    public static func fromEnvironment(_ env: [String: String]) throws(KeyError) -> WebhookVerifier {
        func pem(_ name: String, _ fallback: String) throws(KeyError) -> String {
            guard let value = env[name], !value.isEmpty else { return fallback }
            if value.contains("-----BEGIN") { return value }
            guard let data = FileManager.default.contents(atPath: value), let text = String(data: data, encoding: .utf8)
            else {
                throw KeyError(description: "\(name): cannot read the PEM file '\(value)'")
            }
            return text
        }
        let ed = try pem("GHL_WEBHOOK_ED25519_PUBLIC_KEY", ghlEd25519PEM)
        let rsa = try pem("GHL_WEBHOOK_RSA_PUBLIC_KEY", ghlRSAPEM)
        do {
            return try WebhookVerifier(ed25519PEM: ed, rsaPEM: rsa)
        } catch {
            let variable =
                error.description.contains("Ed25519") ? "GHL_WEBHOOK_ED25519_PUBLIC_KEY" : "GHL_WEBHOOK_RSA_PUBLIC_KEY"
            throw KeyError(description: "\(variable): \(error.description)")
        }
    }

    /// Checks `body` (the exact bytes received) against the signature headers.
    public func verify(body: some DataProtocol, ghlSignature: String?, whSignature: String?) -> Outcome {
        if let header = ghlSignature {
            guard let signature = Data(base64Encoded: header.trimmingCharacters(in: .whitespaces)) else {
                return .invalid(.ed25519, reason: "x-ghl-signature is not base64")
            }
            return ed25519.isValidSignature(signature, for: body)
                ? .valid(.ed25519) : .invalid(.ed25519, reason: "x-ghl-signature does not match the body")
        }
        if let header = whSignature {
            guard let signature = Data(base64Encoded: header.trimmingCharacters(in: .whitespaces)) else {
                return .invalid(.rsa, reason: "x-wh-signature is not base64")
            }
            let valid = rsa.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: Data(body)),
                padding: .insecurePKCS1v1_5)
            return valid ? .valid(.rsa) : .invalid(.rsa, reason: "x-wh-signature does not match the body")
        }
        return .missingSignature
    }
}

/// Secrets compared in constant time (workflow webhook secret, admin token): how long the
/// comparison takes says nothing about how much of a guess was right.
public enum SharedSecret {
    public static func matches(_ presented: String?, _ expected: String) -> Bool {
        guard let presented else { return false }
        let a = Array(SHA256.hash(data: Data(presented.utf8)))
        let b = Array(SHA256.hash(data: Data(expected.utf8)))
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}

/// A short, stable name for a secret that does not reveal it (the first 16 hex digits of its
/// SHA-256): two locations whose CallTools key and silo are the same get the same account name.
public enum Fingerprint {
    public static func of(_ secret: String) -> String {
        let hex = Array("0123456789abcdef")
        return String(
            SHA256.hash(data: Data(secret.utf8)).prefix(8).flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 15)]] })
    }
}
