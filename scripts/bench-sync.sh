#!/usr/bin/env bash
# Reruns the sync benchmarks of docs/benchmarks.md: upstream calls per new / changed / unchanged
# contact, and full passes over 10,000 and 100,000 sandbox contacts (rate limits lifted):
# wall time, CPU time per contact, peak resident memory.
#   scripts/bench-sync.sh            both sizes
#   scripts/bench-sync.sh 20000      one size
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product leadsync >/dev/null
bin="$(swift build -c release --show-bin-path)/leadsync"
sizes=("$@")
[ ${#sizes[@]} -eq 0 ] && sizes=(10000 100000)
exec python3 scripts/bench_sync.py "$bin" "${sizes[@]}"
