"""Outage benchmark of `leadsync serve`: CallTools answers 503 to everything for a while; N new
leads arrive by signed webhook during the outage; then it comes back. Measures, with the
server's default settings (CallTools budget 1000/3600 s, breaker probes at 5 s doubling to
60 s):
- the CallTools requests the server sent during the outage (the sandbox's log; only the
  breaker's probes are expected once it is open) and the webhooks it answered 200;
- the time from CallTools' return to the first lead landing (the probe interval) and to every
  lead in its bucket (the drain at the budget);
- dead letters (must be 0) and duplicates (must be 0).

Usage: python3 scripts/bench_outage.py LEADSYNC_BINARY [--leads 500] [--outage-seconds 120]
       [--latency-ms 100]
"""
import argparse, base64, http.client, json, os, shutil, signal, subprocess, sys, tempfile, time, uuid
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.dirname(__file__))
from crash_test import free_port, wait_until, healthy, get_all  # noqa: E402

RULES = """version: 1
buckets:
  cold: 11237
fields:
  first_name: "{{ firstName }}"
  mobile_phone_number: "{{ phone | e164 }}"
  crm_id: "{{ id }}"
calltools:
  lookup_existing: true
rules:
  - name: cold
    when: { tags: { has: cold lead } }
    bucket: cold
    calltools_tags: { add: ["outage cold"] }
"""


def calltools_status(port):
    """The sandbox CallTools' answer to a bucket read (503 while it is down); not paced by leadsync."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/api/buckets/?page=1&page_size=1", headers={"Authorization": "Token sandbox-calltools-key"})
    r = c.getresponse(); r.read()
    return r.status


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--leads", type=int, default=500)
    ap.add_argument("--outage-seconds", type=int, default=120)
    ap.add_argument("--latency-ms", type=int, default=100)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="leadsync-outage-")
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    open(f"{work}/ed25519.pem", "wb").write(pem)
    rules = f"{work}/outage.yaml"
    open(rules, "w").write(RULES)

    sb_port, port = free_port(), free_port()
    start_after = 8
    # The sandbox's own rate limits are lifted: what paces the drain is leadsync's default budget.
    sandbox = subprocess.Popen(
        [a.binary, "sandbox", "--port", str(sb_port), "--contacts", "0", "--lift-limits",
         "--calltools-latency-ms", str(a.latency_ms), "--calltools-outage", f"{start_after},{a.outage_seconds}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t_start = time.time()
    base = f"http://127.0.0.1:{sb_port}"
    env = dict(os.environ, GHL_BASE_URL=base, GHL_API_KEY="sandbox-ghl-token", GHL_LOCATION_ID="sandboxLocation0001",
               CALLTOOLS_BASE_URL=base, CALLTOOLS_API_KEY="sandbox-calltools-key",
               GHL_WEBHOOK_ED25519_PUBLIC_KEY=f"{work}/ed25519.pem", LEADSYNC_PORT=str(port),
               LEADSYNC_ADMIN_TOKEN="bench-admin-token-0123456789abcdef0123", LEADSYNC_SYNC_INTERVAL_MINUTES="0", LEADSYNC_FULL_SYNC_HOUR="off",
               LEADSYNC_DB=f"{work}/leadsync.sqlite")
    for k in ("CALLTOOLS_RATE_LIMIT", "GHL_RATE_LIMIT", "LEADSYNC_BREAKER_FAILURES", "LEADSYNC_BREAKER_PROBE_MAX_SECONDS"):
        env.pop(k, None)  # defaults, as an operator runs it
    log = open(f"{work}/server.log", "ab")
    server = subprocess.Popen([a.binary, "serve", "--rules", rules, "--log-format", "text"], env=env, stdout=log, stderr=log)
    try:
        wait_until("the server to listen", lambda: healthy(port), 60)
        wait_until("CallTools to go down", lambda: calltools_status(sb_port) == 503, start_after + 30)
        t_down = time.time()

        def stats():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/sync/stats", headers={"Authorization": "Bearer bench-admin-token-0123456789abcdef0123"})
            return json.loads(c.getresponse().read())

        accepted = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(a.leads):
            event = {"type": "ContactTagUpdate", "locationId": "sandboxLocation0001", "id": f"out{i:05d}",
                     "firstName": "Outage", "lastName": str(i), "phone": f"+1628{3000000 + i:07d}",
                     "tags": ["cold lead"], "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                     "webhookId": str(uuid.uuid4())}
            body = json.dumps(event).encode()
            conn.request("POST", "/webhook/ghl", body,
                         {"x-ghl-signature": base64.b64encode(key.sign(body)).decode(), "Content-Type": "application/json"})
            r = conn.getresponse(); answer = r.read()
            if r.status == 200 and b"accepted" in answer:
                accepted += 1
        t_sent = time.time()
        # The last look at the server before CallTools returns: what it held, what it showed.
        held_at = {}

        def back():
            if calltools_status(sb_port) != 503:
                return True
            held_at.update(stats())
            return False

        wait_until("CallTools to come back", back, a.outage_seconds + 60)
        t_up = time.time()
        first = [None]

        def drained():
            s = stats()
            if first[0] is None and s.get("in_calltools", 0) > 0:
                first[0] = time.time()
            return s.get("queue_depth") == 0 and s.get("in_calltools") == a.leads

        wait_until("the backlog to drain", drained, 3 * 3600)
        t_done = time.time()
        final = stats()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/metrics")
        metrics = c.getresponse().read().decode()
        calls = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                    if line.startswith("leadsync_upstream_calls_total") and 'service="calltools"' in line)
    finally:
        server.send_signal(signal.SIGTERM); server.wait(timeout=30)
    contacts = get_all(sb_port, "/api/contacts/")
    sandbox.send_signal(signal.SIGTERM); sandbox.wait(timeout=10)

    # What the sandbox saw is not exported; the server's own log counts its calls by status.
    text = open(f"{work}/server.log", errors="replace").read()
    opened = text.count("circuit open")
    closed = text.count("circuit closed")
    crm = [c.get("crm_id") for c in contacts]
    in_bucket = sum(1 for c in contacts if 11237 in [b if isinstance(b, int) else b.get("id") for b in c.get("buckets", [])])
    problems = []
    if accepted != a.leads: problems.append(f"{a.leads - accepted} webhooks not accepted during the outage")
    if final.get("dead_letters", 0): problems.append(f"{final['dead_letters']} dead letters")
    if len(crm) != len(set(crm)): problems.append(f"{len(crm) - len(set(crm))} duplicate CallTools contacts")
    if in_bucket != a.leads: problems.append(f"{in_bucket} of {a.leads} leads in their bucket")
    if opened != 1 or closed != 1: problems.append(f"breaker logged opening {opened} and closing {closed} times (want 1 and 1)")
    print(f"outage benchmark: {a.leads} leads, CallTools down {a.outage_seconds} s (503 to everything), "
          f"{a.latency_ms} ms answers, default budget (1000/3600 s) and breaker")
    print(f"  webhooks accepted during the outage: {accepted}/{a.leads} in {t_sent - t_down:.1f} s; "
          f"held: {held_at.get('held_for_upstream')}; backlog ETA shown: {held_at.get('backlog_eta_seconds')} s")
    print(f"  first lead landed {((first[0] or t_done) - t_up):.1f} s after CallTools came back "
          f"(the next probe); all {in_bucket} in their bucket after {t_done - t_up:.1f} s")
    print(f"  CallTools calls in all (attempts, probes included): {int(calls)}")
    print(f"  dead letters {final.get('dead_letters', 0)}; CallTools contacts {len(contacts)} "
          f"({len(crm) - len(set(crm))} duplicates); breaker log lines: opened {opened}, closed {closed}")
    if problems:
        print(f"FAILED: {'; '.join(problems)}; server log in {work}/server.log")
        sys.exit(1)
    print("ok")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
