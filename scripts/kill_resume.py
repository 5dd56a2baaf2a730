"""Kill-and-resume driver (see scripts/kill-resume.sh). Talks only to 127.0.0.1. Exits non-zero
on any failure or timeout."""
import json, os, random, re, signal, subprocess, sys, tempfile, time, urllib.request

leadsync, rounds, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rules = "rules/cold-leads.yaml"
buckets = {"cold_leads": 11237, "active_clients": 11252}


def get(url, headers):
    return json.load(urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30))


def ghl_contacts(url):
    """Every GHL contact through the search API, as a sync pass reads them."""
    out, after = [], None
    while True:
        body = {"locationId": "sandboxLocation0001", "pageLimit": 500, "sort": [{"field": "dateAdded", "direction": "asc"}]}
        if after is not None:
            body["searchAfter"] = after
        req = urllib.request.Request(f"{url}/contacts/search", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": "Bearer sandbox-ghl-token", "Version": "2021-07-28",
                                              "Content-Type": "application/json"})
        page = json.load(urllib.request.urlopen(req, timeout=30))["contacts"]
        out += page
        if len(page) < 500:
            return out
        after = page[-1]["searchAfter"]


def calltools(url):
    out, page = [], 1
    while True:
        body = get(f"{url}/api/contacts/?page={page}&page_size=250", {"Authorization": "Token sandbox-calltools-key"})
        out += body["results"]
        if not body["next"]:
            return out
        page += 1


failures = 0
for r in range(1, rounds + 1):
    sandbox = subprocess.Popen([leadsync, "sandbox", "--port", "0", "--contacts", str(n), "--lift-limits"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = re.search(r"on (http://127\.0\.0\.1:\d+)", sandbox.stdout.readline()).group(1)
        env = dict(os.environ, GHL_BASE_URL=url, GHL_API_KEY="sandbox-ghl-token", GHL_LOCATION_ID="sandboxLocation0001",
                   CALLTOOLS_BASE_URL=url, CALLTOOLS_API_KEY="sandbox-calltools-key",
                   GHL_RATE_LIMIT="1000000/1", CALLTOOLS_RATE_LIMIT="1000000/1")
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "leadsync.sqlite")
            cmd = [leadsync, "sync", "--full", "--rules", rules, "--db", db]
            first = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            delay = random.uniform(0.3, 2.0)
            time.sleep(delay)
            killed = first.poll() is None
            if killed:
                first.send_signal(signal.SIGKILL)
            first.wait()
            start = time.monotonic()
            second = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
            took = time.monotonic() - start
            # What dry-run says for every contact, against what CallTools holds.
            export = os.path.join(tmp, "contacts.jsonl")
            with open(export, "w") as f:
                for c in ghl_contacts(url):
                    f.write(json.dumps(c) + "\n")
            dry = subprocess.run([leadsync, "dry-run", "--json", "--rules", rules, export], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True, timeout=300)
            expected, excluded = {}, set()
            for line in dry.stdout.splitlines():
                d = json.loads(line)
                if d.get("buckets"):
                    expected[d["contact_id"]] = sorted(buckets[b] for b in d["buckets"])
                if any(e != "marked-customer" for e in d.get("excluded_by", [])):
                    excluded.add(d["contact_id"])
            # Contacts with one phone are one CallTools contact, and an exclusion on either holds
            # for the phone (dry-run, without --db, decides each contact alone).
            by_phone = {}
            with open(export) as f:
                for line in f:
                    c = json.loads(line)
                    if c.get("phone"):
                        by_phone.setdefault(c["phone"], []).append(c["id"])
            for ids in by_phone.values():
                if len(ids) > 1 and excluded.intersection(ids):
                    for i in ids:
                        expected.pop(i, None)
            held = calltools(url)
            actual = {c["crm_id"]: sorted(c["buckets"]) for c in held if c.get("crm_id") and c["buckets"]}
            phones = [p for c in held for p in c.get("_phone_numbers", [])]
            dup = len(phones) - len(set(phones))
            waited = re.search(r"waited ([\d.]+) s", second.stdout)
            ok = second.returncode == 0 and actual == expected and dup == 0
            failures += 0 if ok else 1
            print(f"round {r}: {'killed' if killed else 'finished'} after {delay:.2f} s; rerun exit {second.returncode} "
                  f"in {took:.1f} s (waited {waited.group(1) if waited else '0'} s at its end); "
                  f"{len(actual)}/{len(expected)} contacts as dry-run says, {dup} duplicate phones: {'ok' if ok else 'FAIL'}",
                  flush=True)
            if not ok:
                print(second.stdout[-2000:], second.stderr[-2000:])
                missing = set(expected) - set(actual)
                extra = set(actual) - set(expected)
                wrong = {k for k in set(expected) & set(actual) if expected[k] != actual[k]}
                print(f"  missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}, wrong buckets {sorted(wrong)[:5]}")
    finally:
        sandbox.terminate()
        sandbox.wait()
print(f"kill-resume: {rounds - failures} of {rounds} rounds ok")
sys.exit(1 if failures else 0)
