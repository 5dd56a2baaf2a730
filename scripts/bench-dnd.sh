#!/usr/bin/env bash
# The cost of never dialling on incomplete data (docs/benchmarks.md, "Completing before
# dialing"): full and unchanged passes over N sandbox contacts, with GHL search answering with
# and without dndSettings, paced at GHL's real 100 requests per 10 s. Prints GHL calls, re-reads
# per 1,000 contacts, wall time, and checks that no Call-DND contact reached CallTools.
#   scripts/bench-dnd.sh          1,000 contacts
#   scripts/bench-dnd.sh 3000     another size
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product leadsync >/dev/null
bin="$(swift build -c release --show-bin-path)/leadsync"
exec python3 scripts/bench_dnd.py "$bin" "${1:-1000}"
