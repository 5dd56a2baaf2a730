#!/usr/bin/env bash
# A pass finishes what it starts (docs/benchmarks.md, "Kill and resume"): `sync --full` over N
# sandbox contacts is killed with SIGKILL at a random moment, then run once more at once. The
# second run must exit 0 with every contact where dry-run says, and no phone twice in CallTools.
#   scripts/kill-resume.sh               10 rounds of 3,000 contacts
#   scripts/kill-resume.sh ROUNDS N      another count and size
# Uses the release binary (built if missing); CI runs one short round with the debug binary:
#   LEADSYNC_BIN=.build/debug/leadsync scripts/kill-resume.sh 1 1000
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${LEADSYNC_BIN:-}"
if [ -z "$bin" ]; then
    swift build -c release --product leadsync >/dev/null
    bin="$(swift build -c release --show-bin-path)/leadsync"
fi
exec python3 scripts/kill_resume.py "$bin" "${1:-10}" "${2:-3000}"
