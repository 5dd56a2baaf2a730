#!/usr/bin/env bash
# The operator page's browser test (scripts/ui_test.py) with what it needs: Debian's chromium
# and PyPI's playwright (driving the system chromium), installed when missing.
#   scripts/ui-test.sh [LEADSYNC_BINARY] [SCREENSHOT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-.build/debug/leadsync}"
shots="${2:-.ci/screenshots}"
if ! command -v chromium >/dev/null; then
    echo "installing chromium (apt-get)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! python3 -c "import playwright" 2>/dev/null; then
    echo "installing playwright (pip; it drives the system chromium, no browser download)" >&2
    python3 -m pip install -q playwright
fi
python3 scripts/ui_test.py "$bin" --screenshots "$shots"
