#!/usr/bin/env bash
# Crash test of the webhook server (docs/operations.md, "Crash safety"): about 200 signed
# webhooks/s from 4 connections, every event for a contact with different tags, SIGKILL at random
# moments (some between a create and its answer), restarts, then a check that every contact holds
# its newest acknowledged event's state, with no duplicate tag, contact or dead letter.
#   scripts/crash-test.sh [--seconds 20] [--rate 200] [--kills 5] [--senders 4] [--latency-ms 60]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import cryptography" 2>/dev/null || pip install --quiet cryptography
swift build --product leadsync >/dev/null
exec python3 scripts/crash_test.py "$(swift build --show-bin-path)/leadsync" "$@"
