#!/usr/bin/env bash
# Patterns in linear time (docs/benchmarks.md, "Regular expressions on hostile input"): match
# time of patterns that make backtracking engines explode, on inputs of 1 KB, 10 KB and 100 KB,
# with Swift's Regex beside them in the same run (capped at 2 s a match).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product leadsync-bench >/dev/null
exec "$(swift build -c release --show-bin-path)/leadsync-bench" regex
