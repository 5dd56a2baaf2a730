#!/usr/bin/env bash
# Outage benchmark (docs/benchmarks.md, "After an outage"): CallTools down for a while, leads
# arriving meanwhile, then the drain at leadsync's default budget and breaker settings.
#   scripts/bench-outage.sh [--leads 500] [--outage-seconds 120] [--latency-ms 100]
#   (--outage-seconds 1800 for the issue's 30 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import cryptography" 2>/dev/null || pip install --quiet cryptography
swift build -c release --product leadsync >/dev/null
exec python3 scripts/bench_outage.py "$(swift build -c release --show-bin-path)/leadsync" "$@"
