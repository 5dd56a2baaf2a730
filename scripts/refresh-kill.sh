#!/usr/bin/env bash
# kill -9 at random instants of passes whose one-second GHL access tokens are refreshed
# throughout (each token answer held back 250 ms after the grant, so kills land in the window
# where the answer is lost). After every kill, the next command works or says that the location
# must be reconnected. CI runs 2 rounds; this runs 20 by default.
#   scripts/refresh-kill.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
LEADSYNC_REFRESH_KILL_ROUNDS="${1:-20}" swift test --skip-build --filter killedAtRandomInstants 2>&1 |
    grep -E "refresh kills|passed|failed|recorded an issue"
