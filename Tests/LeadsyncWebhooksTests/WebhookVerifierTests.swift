import Crypto
import CryptoExtras
import Foundation
import Testing

@testable import LeadsyncWebhooks

@Suite struct WebhookVerifierTests {
    static let body = Array(
        #"{"type":"ContactTagUpdate","locationId":"l","id":"c1","tags":["cold lead"],"webhookId":"w1"}"#.utf8)
    static let ed = Curve25519.Signing.PrivateKey()
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

    static func verifier() throws -> WebhookVerifier {
        try WebhookVerifier(ed25519PEM: ed.publicKey.pemRepresentation, rsaPEM: rsa.publicKey.pemRepresentation)
    }

    static func edSignature(_ body: [UInt8]) throws -> String { try ed.signature(for: body).base64EncodedString() }
    static func rsaSignature(_ body: [UInt8]) throws -> String {
        try rsa.signature(for: SHA256.hash(data: body), padding: .insecurePKCS1v1_5).rawRepresentation
            .base64EncodedString()
    }

    @Test func ghlsPublishedKeysLoad() throws {
        _ = try WebhookVerifier()
    }

    @Test func ed25519OverTheRawBytes() throws {
        let v = try Self.verifier()
        #expect(
            v.verify(body: Self.body, ghlSignature: try Self.edSignature(Self.body), whSignature: nil)
                == .valid(.ed25519))
        var tampered = Self.body
        tampered[tampered.count - 3] = UInt8(ascii: "2")
        #expect(
            v.verify(body: tampered, ghlSignature: try Self.edSignature(Self.body), whSignature: nil)
                == .invalid(.ed25519, reason: "x-ghl-signature does not match the body"))
        // Re-serialised JSON with the same meaning is not the same bytes: refused.
        let spaced = Array(String(decoding: Self.body, as: UTF8.self).replacingOccurrences(of: ",", with: ", ").utf8)
        #expect(
            v.verify(body: spaced, ghlSignature: try Self.edSignature(Self.body), whSignature: nil) != .valid(.ed25519))
    }

    @Test func rsaWhenOnlyTheLegacyHeaderIsThere() throws {
        let v = try Self.verifier()
        #expect(
            v.verify(body: Self.body, ghlSignature: nil, whSignature: try Self.rsaSignature(Self.body)) == .valid(.rsa))
        #expect(
            v.verify(body: Self.body + [0x20], ghlSignature: nil, whSignature: try Self.rsaSignature(Self.body))
                == .invalid(.rsa, reason: "x-wh-signature does not match the body"))
    }

    @Test func ed25519WinsWhenBothArePresent() throws {
        let v = try Self.verifier()
        // A valid RSA signature does not rescue a bad Ed25519 one.
        #expect(
            v.verify(body: Self.body, ghlSignature: "AAAA", whSignature: try Self.rsaSignature(Self.body))
                == .invalid(.ed25519, reason: "x-ghl-signature does not match the body"))
    }

    @Test func failsClosed() throws {
        let v = try Self.verifier()
        #expect(v.verify(body: Self.body, ghlSignature: nil, whSignature: nil) == .missingSignature)
        #expect(
            v.verify(body: Self.body, ghlSignature: "not base64!", whSignature: nil)
                == .invalid(.ed25519, reason: "x-ghl-signature is not base64"))
        // GHL's real key does not accept our signature.
        #expect(
            try WebhookVerifier().verify(
                body: Self.body, ghlSignature: try Self.edSignature(Self.body), whSignature: nil)
                != .valid(.ed25519))
    }

    @Test func keysFromTheEnvironment() throws {
        let dir = NSTemporaryDirectory() + "leadsync-keys-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/ed.pem"
        try Self.ed.publicKey.pemRepresentation.write(toFile: path, atomically: true, encoding: .utf8)
        let fromPath = try WebhookVerifier.fromEnvironment(["GHL_WEBHOOK_ED25519_PUBLIC_KEY": path])
        #expect(
            fromPath.verify(body: Self.body, ghlSignature: try Self.edSignature(Self.body), whSignature: nil)
                == .valid(.ed25519))
        let fromText = try WebhookVerifier.fromEnvironment([
            "GHL_WEBHOOK_RSA_PUBLIC_KEY": Self.rsa.publicKey.pemRepresentation
        ])
        #expect(
            fromText.verify(body: Self.body, ghlSignature: nil, whSignature: try Self.rsaSignature(Self.body))
                == .valid(.rsa))
        #expect(throws: WebhookVerifier.KeyError.self) {
            try WebhookVerifier.fromEnvironment(["GHL_WEBHOOK_ED25519_PUBLIC_KEY": dir + "/missing.pem"])
        }
        do {
            _ = try WebhookVerifier.fromEnvironment([
                "GHL_WEBHOOK_RSA_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"
            ])
            Issue.record("expected a key error")
        } catch {
            #expect(
                error.description
                    == "GHL_WEBHOOK_RSA_PUBLIC_KEY: the RSA webhook key is not a PEM RSA public key (2048 bits or more)"
            )
        }
    }

    @Test func sharedSecretsCompareExactly() {
        #expect(SharedSecret.matches("s3cret", "s3cret"))
        #expect(!SharedSecret.matches("s3cret ", "s3cret"))
        #expect(!SharedSecret.matches("", "s3cret"))
        #expect(!SharedSecret.matches(nil, "s3cret"))
    }
}
