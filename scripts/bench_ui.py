"""How long the operator page's pages take with 100,000 contacts in the state (issue 12's bar: under
50 ms on the server). Wall time of each GET over loopback, so an upper bound of the render.

Usage: python3 scripts/bench_ui.py LEADSYNC_BINARY LEADSYNC_BENCH_BINARY [--contacts 100000] [--rounds 30]

The state is the plan benchmark's (`leadsync-bench plan-db`: contacts with their data, phones and
CallTools state), served by a real `leadsync serve` against the sandbox; 20 webhooks first, so
some contacts have decisions, calls and events to show.
"""
import argparse, base64, http.client, json, os, shutil, statistics, subprocess, sys, tempfile, time, uuid
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
from crash_test import free_port, wait_until  # the scripts' shared process helpers

ADMIN = "bench-ui-admin-token-0123456789abcdef"


def request(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    return r.status, dict(r.getheaders()), data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("bench_binary")
    ap.add_argument("--contacts", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=30)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="leadsync-bench-ui-")
    db = f"{work}/state.sqlite"
    subprocess.run([a.bench_binary, "plan-db", "--contacts", str(a.contacts), "--db", db,
                    "--rules", "rules/cold-leads.yaml"], check=True, stdout=subprocess.DEVNULL)
    key = Ed25519PrivateKey.generate()
    open(f"{work}/ed25519.pem", "wb").write(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    sb_port, port = free_port(), free_port()
    procs = [subprocess.Popen([a.binary, "sandbox", "--port", str(sb_port), "--contacts", "0", "--lift-limits"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        wait_until("the sandbox", lambda: request(sb_port, "GET", "/api/buckets/",
                                                  headers={"Authorization": "Token sandbox-calltools-key"})[0] == 200, 60)
        base = f"http://127.0.0.1:{sb_port}"
        env = dict(os.environ, GHL_BASE_URL=base, GHL_API_KEY="sandbox-ghl-token",
                   GHL_LOCATION_ID="sandboxLocation0001", CALLTOOLS_BASE_URL=base,
                   CALLTOOLS_API_KEY="sandbox-calltools-key", GHL_RATE_LIMIT="100000/1",
                   CALLTOOLS_RATE_LIMIT="100000/1", GHL_WEBHOOK_ED25519_PUBLIC_KEY=f"{work}/ed25519.pem",
                   LEADSYNC_PORT=str(port), LEADSYNC_ADMIN_TOKEN=ADMIN, LEADSYNC_SYNC_INTERVAL_MINUTES="0",
                   LEADSYNC_FULL_SYNC_HOUR="off", LEADSYNC_DB=db)
        procs.append(subprocess.Popen([a.binary, "serve", "--rules", "rules/cold-leads.yaml", "--log-level", "error"],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until("the server", lambda: request(port, "GET", "/healthz")[0] == 200, 60)
        for i in range(20):
            event = {"type": "ContactTagUpdate", "locationId": "sandboxLocation0001", "id": f"web{i:03d}",
                     "firstName": "Wendy", "lastName": f"Hook{i}", "phone": f"+1415555{1000 + i}",
                     "tags": ["cold lead"], "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                     "webhookId": str(uuid.uuid4())}
            body = json.dumps(event).encode()
            assert request(port, "POST", "/webhook/ghl", body,
                           {"x-ghl-signature": base64.b64encode(key.sign(body)).decode()})[0] == 200
        headers = login(port)
        wait_until("the webhooks applied",
                   lambda: request(port, "GET", "/ui/contacts/web019", headers=headers)[0] == 200, 60)
        pages = ["/ui", "/ui/contacts?q=gen5000", "/ui/contacts?q=web007", "/ui/contacts?q=4155551",
                 "/ui/contacts?q=Ana+Lima", "/ui/contacts/web007", "(a seeded contact)", "/ui/dead-letters",
                 "/ui/rules", "/ui/runs"]
        # A seeded contact's id (their ids carry a random tail).
        status, _, html = request(port, "GET", "/ui/contacts?q=gen50000", headers=headers)
        seeded = html.decode().split('href="/ui/contacts/')[1].split('"')[0]
        pages[6] = f"/ui/contacts/{seeded}"
        print(f"operator page, {a.contacts:,} contacts in the state, {a.rounds} GETs a page (loopback wall time)")
        print(f"{'page':<34} {'median':>8} {'p95':>8} {'max':>8}  status  size")
        worst = 0.0
        for path in pages:
            times, size, code = [], 0, 0
            for _ in range(a.rounds):
                t = time.perf_counter()
                code, _, body = request(port, "GET", path, headers=headers)
                times.append((time.perf_counter() - t) * 1000)
                size = len(body)
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            worst = max(worst, p95)
            print(f"{path:<34} {statistics.median(times):7.1f}ms {p95:7.1f}ms {times[-1]:7.1f}ms  {code}     {size:,} B")
        print(f"\nslowest page's p95: {worst:.1f} ms (bar < 50 ms: {'PASS' if worst < 50 else 'FAIL'})")
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


def login(port):
    status, headers, _ = request(port, "POST", "/ui/login", f"token={ADMIN}",
                                 {"Content-Type": "application/x-www-form-urlencoded"})
    if status != 303:
        return None
    return {"Cookie": headers["Set-Cookie"].split(";")[0]}


if __name__ == "__main__":
    main()
