#!/usr/bin/env bash
# Passes under CallTools faults (docs/benchmarks.md, "A pass finishes what it starts"): a sandbox
# whose CallTools answers 30 % 500, 5 % 429 (Retry-After: 1) and 5 % resets; `sync --full` run
# back to back (at most 3) until one exits 0, with the default 30 s settle time. Prints each
# pass's summary, then checks CallTools: no phone twice.
#   scripts/bench-faults.sh          500 contacts
#   scripts/bench-faults.sh 2000     another size
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product leadsync >/dev/null
bin="$(swift build -c release --show-bin-path)/leadsync"
n="${1:-500}"
tmp="$(mktemp -d)"
trap 'kill "$sandbox" 2>/dev/null || true; rm -rf "$tmp"' EXIT
"$bin" sandbox --port 0 --contacts "$n" --lift-limits --calltools-faults 0.3,0.05,0.05 >"$tmp/sandbox.out" 2>/dev/null &
sandbox=$!
for _ in $(seq 100); do grep -q "on http" "$tmp/sandbox.out" 2>/dev/null && break; sleep 0.1; done
url="$(grep -o 'http://127.0.0.1:[0-9]*' "$tmp/sandbox.out" | head -1)"
export GHL_BASE_URL="$url" GHL_API_KEY=sandbox-ghl-token GHL_LOCATION_ID=sandboxLocation0001
export CALLTOOLS_BASE_URL="$url" CALLTOOLS_API_KEY=sandbox-calltools-key
export GHL_RATE_LIMIT=1000000/1 CALLTOOLS_RATE_LIMIT=1000000/1
for pass in 1 2 3; do
    start=$(date +%s.%N)
    set +e
    "$bin" sync --full --rules rules/cold-leads.yaml --db "$tmp/leadsync.sqlite" >"$tmp/out" 2>"$tmp/err"
    code=$?
    set -e
    echo "pass $pass: exit $code in $(echo "$(date +%s.%N) - $start" | bc) s"
    sed 's/^/    /' "$tmp/out"
    grep "^sync: waiting" "$tmp/err" | sed "s/^/    /" || true; grep -v "^sync: " "$tmp/err" | sort | uniq -c | sort -rn | head -8 | sed "s/^/    err /" || true
    [ "$code" -eq 0 ] && break
done
python3 - "$url" <<'PY'
import json, sys, urllib.request
url, phones, page = sys.argv[1], [], 1
while True:
    # The sandbox's faults apply to this read too: retry until it answers.
    for _ in range(50):
        try:
            body = json.load(urllib.request.urlopen(urllib.request.Request(
                f"{url}/api/contacts/?page={page}&page_size=250", headers={"Authorization": "Token sandbox-calltools-key"}), timeout=10))
            break
        except Exception:
            pass
    phones += [p for c in body["results"] for p in c.get("_phone_numbers", [])]
    if not body["next"]:
        break
    page += 1
print(f"CallTools: {len(phones)} phones, {len(phones) - len(set(phones))} held twice")
sys.exit(1 if len(phones) != len(set(phones)) else 0)
PY
