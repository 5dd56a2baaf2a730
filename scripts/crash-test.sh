#!/usr/bin/env bash
# Crash test of the webhook server (docs/operations.md, "Crash safety"): about 200 signed
# webhooks/s, SIGKILL at random moments, restarts, then a check of CallTools' state.
#   scripts/crash-test.sh [--seconds 20] [--rate 200] [--kills 5]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c "import cryptography" 2>/dev/null || pip install --quiet cryptography
swift build --product leadsync >/dev/null
exec python3 scripts/crash_test.py "$(swift build --show-bin-path)/leadsync" "$@"
