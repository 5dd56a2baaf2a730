#!/usr/bin/env bash
# Reruns the benchmarks whose figures are in docs/benchmarks.md.
#   scripts/bench.sh                 engine vs hand-written, dry-run vs jq, 100,000 contacts
#   scripts/bench.sh --contacts N    another size
# Installs jq (Debian package) when missing; builds release binaries once.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v jq >/dev/null; then
    echo "installing jq (apt-get) for the dry-run comparison" >&2
    apt-get update -qq && apt-get install -y -qq jq >/dev/null
fi
swift build -c release --product leadsync
swift build -c release --product leadsync-bench
bin="$(swift build -c release --show-bin-path)"
# Pin to one core: the bar is decisions per second on one core, and pinning steadies the figures.
if command -v taskset >/dev/null; then pin=(taskset -c 1); else pin=(); fi
"${pin[@]}" "$bin/leadsync-bench" --rules rules/cold-leads.yaml "$@"

# Peak memory of dry-run at two input sizes: it streams, so the figure must not grow with the
# file. Measured from a small Python parent with wait4 (a child of leadsync-bench would report
# the benchmark's own footprint).
count=100000
for arg in "$@"; do [[ "${prev:-}" == "--contacts" ]] && count="$arg"; prev="$arg"; done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$bin/leadsync-bench" --contacts "$count" --write-jsonl "$tmp/1x.jsonl" >/dev/null
for i in 1 2 3 4; do cat "$tmp/1x.jsonl"; done > "$tmp/4x.jsonl"
python3 - "$bin/leadsync" "$tmp" "$count" <<'PY'
import os, subprocess, sys
leadsync, tmp, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
print("\ndry-run --json peak resident memory (streams; must not grow with the input)")
for name, n in (("1x", count), ("4x", 4 * count)):
    p = subprocess.Popen([leadsync, "dry-run", "--json", "--now", "2026-11-29T12:00:00Z",
                          "--rules", "rules/cold-leads.yaml", f"{tmp}/{name}.jsonl"], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    print(f"{n:>9} contacts  {usage.ru_maxrss / 1024:6.1f} MiB  (exit {os.waitstatus_to_exitcode(status)})")
PY
