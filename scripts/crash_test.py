"""Crash test of `leadsync serve` (issue 4): signed webhooks at about 200/s while the server is
killed with SIGKILL at random moments and restarted; then every acknowledged event must have
produced the right CallTools state, and no CallTools contact may exist twice.

Usage: python3 scripts/crash_test.py LEADSYNC_BINARY [--seconds 20] [--rate 200] [--kills 5]

The sandbox runs as its own process (`leadsync sandbox`), so it outlives the server's deaths.
Contact i is routed by i % 3: "cold lead" -> Cold Leads (11237), "ACA Active 2026" -> Active
Clients (11252), "newsletter" -> nowhere. Every event for a contact carries the same tags, so
any acknowledged event fixes what the contact's final state must be, whatever the order.
"""
import argparse, base64, http.client, json, os, random, re, shutil, signal, subprocess, sys, tempfile, time, uuid
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

ROUTES = {0: ("cold lead", 11237), 1: ("ACA Active 2026", 11252), 2: ("newsletter", None)}


def free_port():
    import socket
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(port, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1); c.request("GET", "/healthz"); c.getresponse().read(); return
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--contacts", type=int, default=1500)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="leadsync-crash-")
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    open(f"{work}/ed25519.pem", "wb").write(pem)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rules = f"{root}/rules/cold-leads.yaml"

    sb_port, port = free_port(), free_port()
    sandbox = subprocess.Popen([a.binary, "sandbox", "--port", str(sb_port), "--contacts", "0", "--lift-limits"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    wait_port(sb_port)
    base = f"http://127.0.0.1:{sb_port}"
    env = dict(os.environ, GHL_BASE_URL=base, GHL_API_KEY="sandbox-ghl-token", GHL_LOCATION_ID="sandboxLocation0001",
               CALLTOOLS_BASE_URL=base, CALLTOOLS_API_KEY="sandbox-calltools-key", GHL_RATE_LIMIT="100000/1",
               CALLTOOLS_RATE_LIMIT="100000/1", GHL_WEBHOOK_ED25519_PUBLIC_KEY=f"{work}/ed25519.pem",
               LEADSYNC_PORT=str(port), LEADSYNC_ADMIN_TOKEN="crash", LEADSYNC_SYNC_INTERVAL_MINUTES="0",
               LEADSYNC_FULL_SYNC_HOUR="off", LEADSYNC_DB=f"{work}/leadsync.sqlite",
               # A create cut off by a kill is looked up 2 s later (the sandbox answers at once).
               LEADSYNC_CREATE_SETTLE_SECONDS="2")
    log = open(f"{work}/server.log", "ab")

    def start():
        p = subprocess.Popen([a.binary, "serve", "--rules", rules, "--log-level", "warning"], env=env, stdout=log, stderr=log)
        wait_port(port)
        return p

    # The contacts exist in GHL, with the tags their events will carry: the server reads a
    # contact before dialing it when its webhook lacks dndSettings (as ContactTagUpdate does).
    ghl_ids = {}
    for i in range(a.contacts):
        tag, _ = ROUTES[i % 3]
        c = http.client.HTTPConnection("127.0.0.1", sb_port, timeout=10)
        c.request("POST", "/contacts/", json.dumps({
            "locationId": "sandboxLocation0001", "firstName": "Crash", "lastName": str(i),
            "phone": f"+1628{2000000 + i:07d}", "tags": [tag], "dnd": False}),
            {"Authorization": "Bearer sandbox-ghl-token", "Version": "2021-07-28", "Content-Type": "application/json"})
        r = c.getresponse()
        if r.status != 201:
            raise SystemExit(f"sandbox GHL refused a contact: {r.status} {r.read()[:200]}")
        ghl_ids[i] = json.loads(r.read())["contact"]["id"]

    holder = {"server": start(), "kills": 0}
    kill_at = sorted(random.uniform(1, a.seconds - 1) for _ in range(a.kills))
    t0 = time.time()

    def killer():
        # SIGKILL at random instants, independent of the sender: some requests die mid-flight.
        for at in kill_at:
            time.sleep(max(0, t0 + at - time.time()))
            holder["server"].send_signal(signal.SIGKILL); holder["server"].wait(); holder["kills"] += 1
            time.sleep(random.uniform(0.05, 0.4))  # webhooks sent now are refused: not acknowledged
            holder["server"] = start()

    import threading
    k = threading.Thread(target=killer); k.start()
    acked, sent, refused, dupes = {}, 0, 0, 0
    conn = None
    recent = []
    while time.time() - t0 < a.seconds:
        i = random.randrange(a.contacts)
        tag, _ = ROUTES[i % 3]
        # One in ten repeats an earlier delivery exactly (same webhookId): must be a duplicate.
        if recent and random.random() < 0.1:
            i, body = random.choice(recent)
        else:
            event = {"type": "ContactTagUpdate", "locationId": "sandboxLocation0001", "id": ghl_ids[i],
                     "firstName": "Crash", "lastName": str(i), "phone": f"+1628{2000000 + i:07d}", "tags": [tag],
                     "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "webhookId": str(uuid.uuid4())}
            body = json.dumps(event).encode()
            recent = (recent + [(i, body)])[-200:]
        sig = base64.b64encode(key.sign(body)).decode()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("POST", "/webhook/ghl", body, {"x-ghl-signature": sig, "Content-Type": "application/json"})
            r = conn.getresponse(); answer = r.read()
            sent += 1
            if r.status == 200 and b"accepted" in answer:
                acked[i] = acked.get(i, 0) + 1
            elif r.status == 200 and b"duplicate" in answer:
                dupes += 1; acked.setdefault(i, 0)
            else:
                refused += 1
        except Exception:
            refused += 1; conn = None
        target = t0 + (sent + refused) / a.rate
        delay = target - time.time()
        if delay > 0:
            time.sleep(delay)
    k.join()
    server, kills = holder["server"], holder["kills"]
    elapsed = time.time() - t0

    # Let the last server drain its inbox.
    end = time.time() + 120
    while time.time() < end:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/sync/stats", headers={"Authorization": "Bearer crash"})
        stats = json.loads(c.getresponse().read())
        if stats["queue_depth"] == 0:
            break
        time.sleep(0.2)
    server.send_signal(signal.SIGTERM); server.wait(timeout=30)

    # Read CallTools back through its API.
    contacts, page = [], 1
    while True:
        c = http.client.HTTPConnection("127.0.0.1", sb_port, timeout=10)
        c.request("GET", f"/api/contacts/?page_size=250&page={page}", headers={"Authorization": "Token sandbox-calltools-key"})
        data = json.loads(c.getresponse().read())
        contacts += data["results"]
        if not data.get("next"):
            break
        page += 1
    sandbox.send_signal(signal.SIGTERM); sandbox.wait(timeout=10)

    by_crm, by_phone = {}, {}
    for c in contacts:
        by_crm.setdefault(c.get("crm_id"), []).append(c)
        for p in c.get("_phone_numbers", []):
            by_phone.setdefault(p, []).append(c["id"])
    problems = []
    for p, ids in by_phone.items():
        if len(ids) > 1:
            problems.append(f"phone {p} is on {len(ids)} CallTools contacts {ids}")
    for i in acked:
        _, bucket = ROUTES[i % 3]
        found = by_crm.get(ghl_ids[i], [])
        if bucket is None:
            if found and any(f.get("buckets") for f in found):
                problems.append(f"{ghl_ids[i]} should be in no bucket, is in {found[0].get('buckets')}")
        elif len(found) != 1 or found[0].get("buckets") != [bucket]:
            problems.append(f"{ghl_ids[i]} should be in [{bucket}], found {[f.get('buckets') for f in found]}")
    print(f"crash test: {sent + refused} webhooks in {elapsed:.1f} s ({(sent + refused) / elapsed:.0f}/s), "
          f"{sum(acked.values())} accepted, {dupes} duplicates, {refused} refused while down; "
          f"{kills} SIGKILLs; {len(acked)} acknowledged contacts checked; {len(contacts)} CallTools contacts")
    if problems:
        print(f"FAILED: {len(problems)} problem(s); server log in {work}/server.log")
        for p in problems[:20]:
            print("  " + p)
        sys.exit(1)
    print("ok: every acknowledged event produced the right CallTools state; no CallTools contact exists twice")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
