"""Crash test of `leadsync serve`: signed webhooks from several connections while the server is
killed with SIGKILL at random moments and restarted; then CallTools must hold, for every
contact, the state of the newest event the server acknowledged, and nothing twice.

Usage: python3 scripts/crash_test.py LEADSYNC_BINARY [--seconds 20] [--rate 200] [--kills 5]
                                     [--senders 4] [--contacts 600] [--latency-ms 60]
                                     [--server-binary OTHER_BUILD]

What makes loss visible:
- every event for a contact carries different tags than the one before (cold -> warm ->
  newsletter, in a random walk), with increasing timestamps, so losing or reordering any
  acknowledged event leaves the contact in the wrong bucket or with the wrong CallTools tags;
- the check covers buckets, CallTools tags (present and absent), that each tag name exists
  exactly once in /api/alltags/, that no phone is on two CallTools contacts, and that the server
  has no dead letter;
- senders run concurrently (one contact belongs to one sender, so its events are ordered), and
  the sandbox CallTools answers 60 ms after performing a request, so kills land between a create
  and its answer; the test requires that some did (the server then finds its own contact by
  phone instead of creating it again);
- an event refused while the server is down is sent again (same webhookId) until acknowledged,
  as a retrying sender would; waits are on ports and states, each with a deadline that fails
  the run.

The rules are the test's own (written to its work directory): no exclusion reads a field the
webhook lacks, so decisions depend on the events alone.
"""
import argparse, base64, http.client, json, os, random, shutil, signal, sqlite3, subprocess, sys, tempfile, threading, time, uuid
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

RULES = """version: 1
buckets:
  cold: 11237
  warm: 11252
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
    calltools_tags: { add: ["crash cold"], remove: ["crash warm"] }
  - name: warm
    when: { tags: { has: warm lead } }
    bucket: warm
    calltools_tags: { add: ["crash warm"], remove: ["crash cold"] }
  - name: newsletter
    when: { tags: { has: newsletter } }
    calltools_tags: { remove: ["crash cold", "crash warm"] }
on_no_match: remove
"""
# State name -> (GHL tag, bucket, CallTools tag expected present)
STATES = {"cold": ("cold lead", 11237, "crash cold"), "warm": ("warm lead", 11252, "crash warm"),
          "newsletter": ("newsletter", None, None)}
CT_TAGS = ["crash cold", "crash warm"]


class Failure(SystemExit):
    pass


def free_port():
    import socket
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_until(what, check, deadline):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.02)
    raise Failure(f"{os.path.basename(sys.argv[0])}: timed out waiting for {what}")


def healthy(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    c.request("GET", "/healthz"); return c.getresponse().status == 200


def sandbox_up(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    c.request("GET", "/api/buckets/", headers={"Authorization": "Token sandbox-calltools-key"})
    return c.getresponse().status == 200


def get_all(port, path):
    out, page = [], 1
    while True:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", f"{path}?page_size=250&page={page}", headers={"Authorization": "Token sandbox-calltools-key"})
        data = json.loads(c.getresponse().read())
        out += data["results"]
        if not data.get("next"):
            return out
        page += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--contacts", type=int, default=600)
    ap.add_argument("--latency-ms", type=int, default=60)
    ap.add_argument("--server-binary", help="serve with this build instead (the sandbox stays the given binary's)")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="leadsync-crash-")
    key = Ed25519PrivateKey.generate()
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    open(f"{work}/ed25519.pem", "wb").write(pem)
    rules = f"{work}/crash.yaml"
    open(rules, "w").write(RULES)

    sb_port, port = free_port(), free_port()
    sandbox = subprocess.Popen([a.binary, "sandbox", "--port", str(sb_port), "--contacts", "0", "--lift-limits",
                                "--calltools-latency-ms", str(a.latency_ms)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until("the sandbox", lambda: sandbox_up(sb_port), 30)
    base = f"http://127.0.0.1:{sb_port}"
    db = f"{work}/leadsync.sqlite"
    env = dict(os.environ, GHL_BASE_URL=base, GHL_API_KEY="sandbox-ghl-token", GHL_LOCATION_ID="sandboxLocation0001",
               CALLTOOLS_BASE_URL=base, CALLTOOLS_API_KEY="sandbox-calltools-key", GHL_RATE_LIMIT="100000/1",
               CALLTOOLS_RATE_LIMIT="100000/1", GHL_WEBHOOK_ED25519_PUBLIC_KEY=f"{work}/ed25519.pem",
               LEADSYNC_PORT=str(port), LEADSYNC_ADMIN_TOKEN="crash-test-admin-token-0123456789abcdef", LEADSYNC_SYNC_INTERVAL_MINUTES="0",
               LEADSYNC_FULL_SYNC_HOUR="off", LEADSYNC_DB=db,
               # A create cut off by a kill is looked up 2 s later.
               LEADSYNC_CREATE_SETTLE_SECONDS="2")
    log = open(f"{work}/server.log", "ab")

    def start():
        p = subprocess.Popen([a.server_binary or a.binary, "serve", "--rules", rules, "--log-level", "warning"], env=env, stdout=log, stderr=log)
        wait_until("the server to listen", lambda: healthy(port), 30)
        return p

    holder = {"server": start(), "kills": 0, "lock": threading.Lock()}
    kill_at = sorted(random.uniform(1, a.seconds - 1) for _ in range(a.kills))
    t0 = time.time()

    def killer():
        # SIGKILL at random instants, independent of the senders: some requests die mid-flight.
        for at in kill_at:
            time.sleep(max(0, t0 + at - time.time()))
            with holder["lock"]:
                holder["server"].send_signal(signal.SIGKILL); holder["server"].wait(); holder["kills"] += 1
            time.sleep(random.uniform(0.05, 0.4))  # deliberate downtime: webhooks now are refused
            with holder["lock"]:
                holder["server"] = start()

    # Contact i belongs to sender i % senders; its events go out one at a time, in order.
    newest = {}      # contact index -> state name of its newest acknowledged event
    counts = {"accepted": 0, "duplicate": 0, "refused": 0, "retried": 0}
    counts_lock = threading.Lock()
    stamp = [0]

    def sender(j):
        mine = [i for i in range(a.contacts) if i % a.senders == j]
        current = {i: None for i in mine}
        conn = None
        per_sender_rate = a.rate / a.senders
        sent = 0
        while time.time() - t0 < a.seconds:
            i = random.choice(mine)
            state = random.choice([s for s in STATES if s != current[i]])
            with counts_lock:  # GHL timestamps, strictly increasing across every event
                stamp[0] = max(stamp[0] + 1, int(time.time() * 1000))
                ms = stamp[0]
            ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
            event = {"type": "ContactTagUpdate", "locationId": "sandboxLocation0001", "id": f"crash{i:05d}",
                     "firstName": "Crash", "lastName": str(i), "phone": f"+1628{2000000 + i:07d}",
                     "tags": [STATES[state][0]], "timestamp": ts, "webhookId": str(uuid.uuid4())}
            body = json.dumps(event).encode()
            sig = base64.b64encode(key.sign(body)).decode()
            attempts = 0
            while True:  # until acknowledged: the sender retries what was refused
                attempts += 1
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("POST", "/webhook/ghl", body, {"x-ghl-signature": sig, "Content-Type": "application/json"})
                    r = conn.getresponse(); answer = r.read()
                    if r.status == 200 and (b"accepted" in answer or b"duplicate" in answer):
                        with counts_lock:
                            counts["accepted" if b"accepted" in answer else "duplicate"] += 1
                            if attempts > 1:
                                counts["retried"] += 1
                        break
                    with counts_lock:
                        counts["refused"] += 1
                except Exception:
                    conn = None
                    with counts_lock:
                        counts["refused"] += 1
                if time.time() - t0 > a.seconds + 60:
                    raise Failure("crash test: an event was never acknowledged within a minute")
                time.sleep(0.02)
            current[i] = state
            newest[i] = state
            sent += 1
            delay = t0 + sent / per_sender_rate - time.time()
            if delay > 0:
                time.sleep(delay)

    errors = []

    def run_sender(j):
        try:
            sender(j)
        except BaseException as e:  # reported after the join
            errors.append(e)

    k = threading.Thread(target=killer); k.start()
    threads = [threading.Thread(target=run_sender, args=(j,)) for j in range(a.senders)]
    for t in threads: t.start()
    for t in threads: t.join()
    k.join()
    if errors:
        raise errors[0]
    server, kills = holder["server"], holder["kills"]
    elapsed = time.time() - t0

    def stats():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/sync/stats", headers={"Authorization": "Bearer crash-test-admin-token-0123456789abcdef"})
        return json.loads(c.getresponse().read())

    wait_until("the inbox to drain", lambda: stats()["queue_depth"] == 0, 120)
    dead = stats().get("dead_letters", 0)
    server.send_signal(signal.SIGTERM); server.wait(timeout=30)

    contacts = get_all(sb_port, "/api/contacts/")
    tags = get_all(sb_port, "/api/alltags/")
    sandbox.send_signal(signal.SIGTERM); sandbox.wait(timeout=10)

    problems = []
    if dead:
        problems.append(f"{dead} dead letters")
    tag_ids = {}
    for t in tags:
        tag_ids.setdefault(t["name"].strip().lower(), []).append(t["id"])
    for name in CT_TAGS:
        if len(tag_ids.get(name, [])) != 1:
            problems.append(f"CallTools tag '{name}' exists {len(tag_ids.get(name, []))} times")
    by_crm, by_phone = {}, {}
    for c in contacts:
        by_crm.setdefault(c.get("crm_id"), []).append(c)
        for p in c.get("_phone_numbers", []):
            by_phone.setdefault(p, []).append(c["id"])
    for p, ids in by_phone.items():
        if len(ids) > 1:
            problems.append(f"phone {p} is on {len(ids)} CallTools contacts {ids}")

    def ids_of(values):
        return {v if isinstance(v, int) else v.get("id") for v in values or []}

    for i, state in sorted(newest.items()):
        _, bucket, tag = STATES[state]
        crm = f"crash{i:05d}"
        found = by_crm.get(crm, [])
        if len(found) > 1:
            problems.append(f"{crm} is in CallTools {len(found)} times")
            continue
        if bucket is None:
            if found and (found[0].get("buckets") or ids_of(found[0].get("tags")) & {x for n in CT_TAGS for x in tag_ids.get(n, [])}):
                problems.append(f"{crm}: newest event says newsletter, CallTools has buckets {found[0].get('buckets')} tags {found[0].get('tags')}")
            continue
        if not found:
            problems.append(f"{crm}: newest event says {state}, not in CallTools")
            continue
        c = found[0]
        have = ids_of(c.get("tags"))
        want = set(tag_ids.get(tag, []))
        other = {x for n in CT_TAGS if n != tag for x in tag_ids.get(n, [])}
        # A tag CallTools lacks counts as missing (an empty 'want' would pass any contact).
        if ids_of(c.get("buckets")) != {bucket} or not want or not want <= have or have & other:
            problems.append(f"{crm}: newest event says {state}; CallTools has buckets {c.get('buckets')} tags {c.get('tags')}")

    # Kills that landed between a create and its answer: the server found its own contact by
    # phone afterwards instead of creating a second one.
    con = sqlite3.connect(db)
    adopted = con.execute(
        "SELECT COUNT(DISTINCT ghl_id) FROM audit WHERE summary LIKE 'found CallTools contact % by phone%'").fetchone()[0]
    con.close()
    total = counts["accepted"] + counts["duplicate"] + counts["refused"]
    print(f"crash test: {total} webhook requests in {elapsed:.1f} s from {a.senders} connections, "
          f"{counts['accepted']} accepted, {counts['duplicate']} duplicates, {counts['refused']} refused while down "
          f"({counts['retried']} events acknowledged on a retry); {kills} SIGKILLs; {adopted} creates cut off by a "
          f"kill and recovered by phone; {len(newest)} contacts checked against their newest acknowledged event; "
          f"{len(contacts)} CallTools contacts")
    if kills > 0 and adopted == 0:
        problems.append("no kill landed between a create and its answer: the run did not test crash recovery")
    if problems:
        print(f"FAILED: {len(problems)} problem(s); server log in {work}/server.log")
        for p in problems[:20]:
            print("  " + p)
        sys.exit(1)
    print("ok: every contact holds its newest acknowledged event's state; no duplicate, no dead letter")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
