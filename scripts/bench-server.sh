#!/usr/bin/env bash
# Reruns the webhook server benchmarks of docs/benchmarks.md: intake throughput and latency
# (wrk, Ed25519-signed webhooks, durably stored) next to a bare Hummingbird hello-world route in
# the same run; webhook -> CallTools bucket latency at 100/s; resident memory.
#   scripts/bench-server.sh                 10 s per wrk run, 32 connections
#   BENCH_SECONDS=30 BENCH_CONNECTIONS=64 scripts/bench-server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null; then
    (apt-get install -y wrk || (apt-get update && apt-get install -y wrk)) >/dev/null
fi
python3 -c "import cryptography" 2>/dev/null || pip install --quiet cryptography
swift build -c release --product leadsync >/dev/null
swift build -c release --product leadsync-bench >/dev/null
exec python3 scripts/bench_server.py "$(swift build -c release --show-bin-path)"
