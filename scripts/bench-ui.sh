#!/usr/bin/env bash
# The operator page's render times with 100,000 contacts in the state (docs/benchmarks.md,
# "Operator page"). Builds release binaries; needs python3 with `cryptography` (on this machine).
#   scripts/bench-ui.sh                 100,000 contacts, 30 GETs a page
#   scripts/bench-ui.sh --contacts N    another size
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product leadsync
swift build -c release --product leadsync-bench
bin="$(swift build -c release --show-bin-path)"
python3 scripts/bench_ui.py "$bin/leadsync" "$bin/leadsync-bench" "$@"
