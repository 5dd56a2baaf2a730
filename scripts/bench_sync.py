"""Sync benchmark driver (see scripts/bench-sync.sh). Talks only to 127.0.0.1."""
import math, os, re, subprocess, sys, tempfile, time

leadsync, sizes = sys.argv[1], [int(s) for s in sys.argv[2:]]
rules = "rules/cold-leads.yaml"


def run_sync(env, db, rules_path):
    start = time.monotonic()
    p = subprocess.Popen([leadsync, "sync", "--full", "--rules", rules_path, "--db", db],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"sync exited {code}:\n{out}")
    counts = {k: int(v) for k, v in re.findall(r"^\s+(created|updated|unchanged|skipped|failed)\s+(\d+)$", out, re.M)}
    ghl, ct, ids, pages = map(int, re.search(
        r"GHL (\d+), CallTools (\d+) \((\d+) id look-ups, (\d+) contact-list pages\)", out).groups())
    return dict(wall=wall, cpu=usage.ru_utime + usage.ru_stime, rss=usage.ru_maxrss / 1024, ghl=ghl, ct=ct, ids=ids,
                pages=pages, **counts)


print(f"leadsync sync against the sandbox (separate process, rate limits lifted), rules {rules}\n")
rows = []
for n in sizes:
    sandbox = subprocess.Popen([leadsync, "sandbox", "--port", "0", "--contacts", str(n), "--lift-limits"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = re.search(r"on (http://127\.0\.0\.1:\d+)", sandbox.stdout.readline()).group(1)
    env = dict(os.environ, GHL_BASE_URL=url, GHL_API_KEY="sandbox-ghl-token", GHL_LOCATION_ID="sandboxLocation0001",
               CALLTOOLS_BASE_URL=url, CALLTOOLS_API_KEY="sandbox-calltools-key",
               GHL_RATE_LIMIT="1000000/1", CALLTOOLS_RATE_LIMIT="1000000/1")
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "leadsync.sqlite")
        changed_rules = os.path.join(tmp, "changed.yaml")
        with open(rules) as f:
            text = f.read()
        # A new default field: every routed contact changes by exactly one field.
        with open(changed_rules, "w") as f:
            f.write(text.replace('  crm_id: "{{ id }}"\n', '  crm_id: "{{ id }}"\n  lead_source: "benchmark"\n'))
        new = run_sync(env, db, rules)
        same = run_sync(env, db, rules)
        changed = run_sync(env, db, changed_rules)
    sandbox.terminate()
    sandbox.wait()
    overhead = new["ids"] + new["pages"]  # once per pass, not per contact
    print(f"{n:>7} contacts: new pass created {new['created']}, skipped {new['skipped']} (excluded or unrouted)")
    print(f"   CallTools calls per new contact      {(new['ct'] - overhead) / max(1, new['created']):.2f}"
          f"  (+{new['ids']} id look-ups, +{new['pages']} contact-list pages per pass)   bar <= 2")
    print(f"   CallTools calls per changed contact  {changed['ct'] / max(1, changed['updated']):.2f}  ({changed['updated']} updated)                bar <= 1")
    print(f"   CallTools calls, unchanged pass      {same['ct']}                                    bar 0")
    print(f"   GHL calls, unchanged pass            {same['ghl']} (ceil(N/500) = {math.ceil(n / 500)})")
    for name, r in (("new", new), ("unchanged", same), ("changed", changed)):
        print(f"   {name:<10} pass  wall {r['wall']:7.2f} s   CPU {r['cpu'] / n * 1e6:7.1f} us/contact   peak RSS {r['rss']:6.1f} MiB")
    rows.append((n, new, same, changed))
    print()
if len(rows) == 2:
    print(f"peak RSS, {rows[0][0]} vs {rows[1][0]} contacts: {rows[0][1]['rss']:.1f} vs {rows[1][1]['rss']:.1f} MiB (bar < 200 MiB, flat)")
