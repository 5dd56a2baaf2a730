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
