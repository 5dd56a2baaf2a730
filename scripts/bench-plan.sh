#!/usr/bin/env bash
# `leadsync plan` over 100,000 and 1,000,000 stored contacts: wall time and peak resident memory
# (the figures in docs/benchmarks.md, "plan"). The edit planned is PlanTests' one: a new
# tag-to-bucket rule and a tightened do-not-call exclusion over rules/cold-leads.yaml.
#   scripts/bench-plan.sh              100,000 and 1,000,000
#   scripts/bench-plan.sh 20000        other sizes
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[[ ${#sizes[@]} -eq 0 ]] && sizes=(100000 1000000)
swift build -c release --product leadsync
swift build -c release --product leadsync-bench
bin="$(swift build -c release --show-bin-path)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/edited.yaml" <<'PY'
import sys
t = open("rules/cold-leads.yaml").read()
t = t.replace("  active_clients: { id: 11252 }\n", "  active_clients: { id: 11252 }\n  hot: 11300\n")
t = t.replace("on_no_match: remove\n",
              "  - name: hot-lead\n    when: { tags: { has: vip } }\n    bucket: hot\n\non_no_match: remove\n")
t = t.replace("        - { field: dndSettings.Call.status, in: [active, permanent] }\n",
              "        - { field: dndSettings.Call.status, in: [active, permanent] }\n"
              "        - { field: dndSettings.SMS.status, equals: active }\n")
open(sys.argv[1], "w").write(t)
PY
for n in "${sizes[@]}"; do
    "$bin/leadsync-bench" plan-db --contacts "$n" --db "$tmp/plan-$n.sqlite" --rules rules/cold-leads.yaml
    ls -l "$tmp/plan-$n.sqlite" | awk '{printf "database: %.0f MiB\n", $5 / 1048576}'
    python3 - "$bin/leadsync" "$tmp/edited.yaml" "$tmp/plan-$n.sqlite" "$n" <<'PY'
import os, subprocess, sys, time
leadsync, rules, db, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
best = None
for _ in range(3):
    start = time.monotonic()
    p = subprocess.Popen([leadsync, "plan", "--rules", rules, "--db", db], stdout=subprocess.PIPE)
    out = p.stdout.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    took = time.monotonic() - start
    if best is None or took < best[0]:
        best = (took, usage.ru_maxrss / 1024, out.splitlines()[0] if out else "", os.waitstatus_to_exitcode(status))
print(f"plan over {n:>9,} contacts: {best[0]:6.2f} s (best of 3), peak {best[1]:6.1f} MiB, exit {best[3]}")
print(f"  {best[2]}")
PY
done
