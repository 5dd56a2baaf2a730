"""Completeness benchmark driver (see scripts/bench-dnd.sh). Talks only to 127.0.0.1."""
import json, os, re, subprocess, sys, tempfile, time, urllib.request

leadsync, n = sys.argv[1], int(sys.argv[2])
rules = "rules/cold-leads.yaml"


def sync(env, db):
    start = time.monotonic()
    p = subprocess.run([leadsync, "sync", "--full", "--rules", rules, "--db", db], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    wall = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"sync exited {p.returncode}:\n{p.stdout}")
    ghl, ct = map(int, re.search(r"GHL (\d+), CallTools (\d+)", p.stdout).groups())
    m = re.search(r"^\s+re-read\s+(\d+)$", p.stdout, re.M)
    created = int(re.search(r"^\s+created\s+(\d+)$", p.stdout, re.M).group(1))
    return dict(wall=wall, ghl=ghl, ct=ct, rereads=int(m.group(1)) if m else 0, created=created)


def calltools_crm_ids(url):
    ids, page = [], 1
    while True:
        req = urllib.request.Request(f"{url}/api/contacts/?page={page}&page_size=250",
                                     headers={"Authorization": "Token sandbox-calltools-key"})
        body = json.load(urllib.request.urlopen(req))
        ids += [c.get("crm_id") for c in body["results"]]
        if not body["next"]:
            return ids
        page += 1


def said_no(i):
    """Call DND set (SandboxPopulation.hasCallDND), or the phone of a contact that has it (sharesPhoneWith)."""
    return i % 11 == 5 or (i % 55 == 6 and (i - 1) % 17 != 0)


print(f"sync --full over {n} sandbox contacts, rules {rules}, GHL paced at 100 per 10 s (GHL_RATE_LIMIT=100/10)\n")
print(f"{'search':<22}{'pass':<11}{'GHL calls':>10}{'re-reads':>10}{'per 1,000':>11}{'wall':>9}{'created':>9}  Call-DND in CallTools")
for omit in (False, True):
    args = [leadsync, "sandbox", "--port", "0", "--contacts", str(n), "--lift-limits"]
    if omit:
        args.append("--search-omits-dnd")
    sandbox = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = re.search(r"on (http://127\.0\.0\.1:\d+)", sandbox.stdout.readline()).group(1)
    env = dict(os.environ, GHL_BASE_URL=url, GHL_API_KEY="sandbox-ghl-token", GHL_LOCATION_ID="sandboxLocation0001",
               CALLTOOLS_BASE_URL=url, CALLTOOLS_API_KEY="sandbox-calltools-key",
               GHL_RATE_LIMIT="100/10", CALLTOOLS_RATE_LIMIT="1000000/1")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "leadsync.sqlite")
            for name in ("new", "unchanged"):
                r = sync(env, db)
                dnc = [c for c in calltools_crm_ids(url) if c and said_no(int(c[3:]))]
                label = "without dndSettings" if omit else "with dndSettings"
                print(f"{label:<22}{name:<11}{r['ghl']:>10}{r['rereads']:>10}{r['rereads'] * 1000 / n:>11.0f}"
                      f"{r['wall']:>8.1f}s{r['created']:>9}  {len(dnc)}")
                if dnc:
                    sys.exit(f"FAIL: Call-DND contacts in CallTools: {dnc[:5]}")
    finally:
        sandbox.terminate()
        sandbox.wait()
print("\nre-reads are GET /contacts/{id} before dialing a contact whose search result lacks dndSettings")
