"""Several locations through the real binaries (issue 9): two `leadsync sandbox` processes as two
GHL locations with their own CallTools accounts, one `leadsync serve --config leadsync.yaml`.

Usage: python3 scripts/locations_smoke.py LEADSYNC_BINARY

It sends a signed webhook for each location and one for a location not in the file, then checks
from the command line (`stats --location`, `explain --location`) and `/metrics` that each lead
went to its own location's rows, and the stranger's was ignored and counted. Exit 0 when all holds.
"""
import base64, http.client, json, os, subprocess, sys, tempfile, time, uuid
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
from crash_test import free_port, wait_until

ADMIN = "locations-smoke-admin-token-0123456789"
RULES = """version: 1
buckets:
  cold: {bucket}
fields:
  first_name: "{{{{ firstName }}}}"
  mobile_phone_number: "{{{{ phone | e164 }}}}"
  crm_id: "{{{{ id }}}}"
rules:
  - name: cold
    when: {{ tags: {{ has: cold lead }} }}
    bucket: cold
"""


def status(port, path, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    r.read()
    return r.status


def main():
    binary = sys.argv[1]
    work = tempfile.mkdtemp(prefix="leadsync-locations-")
    key = Ed25519PrivateKey.generate()
    open(f"{work}/ed25519.pem", "wb").write(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    procs, ports = [], {}
    failures = []
    try:
        yaml = "locations:\n"
        for name, bucket in (("east", 11237), ("west", 11252)):
            ports[name] = free_port()
            procs.append(subprocess.Popen(
                [binary, "sandbox", "--port", str(ports[name]), "--contacts", "0", "--lift-limits",
                 "--location-id", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            open(f"{work}/{name}.yaml", "w").write(RULES.format(bucket=bucket))
            base = f"http://127.0.0.1:{ports[name]}"
            yaml += (f"  - id: {name}\n    rules: {name}.yaml\n"
                     f"    ghl: {{ token_env: GHL_TOKEN, base_url: \"{base}\", rate_limit: 1000/1 }}\n"
                     f"    calltools: {{ key_env: CT_KEY, base_url: \"{base}\", rate_limit: 1000/1 }}\n")
        open(f"{work}/leadsync.yaml", "w").write(yaml)
        for name in ports:
            wait_until(f"the {name} sandbox", lambda n=name: status(
                ports[n], "/api/buckets/", {"Authorization": "Token sandbox-calltools-key"}) == 200, 30)
        port = free_port()
        env = dict(os.environ, GHL_TOKEN="sandbox-ghl-token", CT_KEY="sandbox-calltools-key",
                   GHL_WEBHOOK_ED25519_PUBLIC_KEY=f"{work}/ed25519.pem", LEADSYNC_PORT=str(port),
                   LEADSYNC_ADMIN_TOKEN=ADMIN, LEADSYNC_SYNC_INTERVAL_MINUTES="0", LEADSYNC_FULL_SYNC_HOUR="off",
                   LEADSYNC_DB=f"{work}/leadsync.sqlite", LEADSYNC_CONFIG=f"{work}/leadsync.yaml")
        log = open(f"{work}/server.log", "ab")
        procs.append(subprocess.Popen([binary, "serve", "--log-level", "warning"], env=env, stdout=log, stderr=log))
        wait_until("the server", lambda: status(port, "/healthz") == 200, 30)

        def webhook(location, contact_id, phone):
            event = {"type": "ContactTagUpdate", "locationId": location, "id": contact_id, "firstName": "Ana",
                     "phone": phone, "tags": ["cold lead"],
                     "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                     "webhookId": str(uuid.uuid4())}
            body = json.dumps(event).encode()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("POST", "/webhook/ghl", body, {"x-ghl-signature": base64.b64encode(key.sign(body)).decode(),
                                                      "Content-Type": "application/json"})
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"{}").get("status")

        got = [webhook("east", "e1", "+14155550101"), webhook("west", "w1", "+14155550102"),
               webhook("north", "n1", "+14155550103")]
        if got != [(200, "accepted"), (200, "accepted"), (200, "ignored")]:
            failures.append(f"webhook answers {got}")

        def stats(location):
            out = subprocess.run([binary, "stats", "--json", "--location", location], env=env,
                                 capture_output=True, text=True)
            return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr.strip()}

        wait_until("both leads in CallTools", lambda: stats("east").get("in_calltools") == 1
                   and stats("west").get("in_calltools") == 1, 30)
        east, west = stats("east"), stats("west")
        if east.get("buckets") != {"11237": 1} or west.get("buckets") != {"11252": 1}:
            failures.append(f"buckets: east {east.get('buckets')}, west {west.get('buckets')}")
        explain = subprocess.run([binary, "explain", "e1", "--location", "east"], env=env, capture_output=True,
                                 text=True)
        if "cold" not in explain.stdout:
            failures.append(f"explain e1 in east: {explain.stdout[:200]} {explain.stderr[:200]}")
        stranger = subprocess.run([binary, "explain", "e1", "--location", "west"], env=env, capture_output=True,
                                  text=True)
        if "cold" in stranger.stdout:
            failures.append("explain e1 in west shows east's contact")
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/metrics")
        metrics = c.getresponse().read().decode()
        for line in ['leadsync_webhooks_total{location="east",outcome="accepted"} 1',
                     'leadsync_webhooks_total{location="west",outcome="accepted"} 1',
                     'leadsync_webhooks_ignored_total{location="",reason="unknown_location"} 1']:
            if line not in metrics:
                failures.append(f"metrics lack: {line}")
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    if failures:
        print("locations smoke: FAILED\n  " + "\n  ".join(failures))
        print(f"  (server log: {work}/server.log)")
        return 1
    print("locations smoke: 2 locations through serve --config; each lead in its own location's rows and "
          "bucket; a stranger location ignored and counted: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
