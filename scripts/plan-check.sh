#!/usr/bin/env bash
# Issue 11's check at its size: a sandbox of N contacts (default 100,000) synced under
# rules/cold-leads.yaml, an edit planned (a tag→bucket rule and a tightened do-not-call), then
# synced; the contacts the plan lists must be exactly those the sync moved, and its call count
# what the sync spent. CI runs the same test at 1,000 contacts (PlanTests).
#   scripts/plan-check.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
LEADSYNC_PLAN_CONTACTS="${1:-100000}" swift test --filter "PlanTests/thePlanListsWhatTheNextSyncMovesAndWhatItCosts" 2>&1 \
    | grep -E "plan check:|✔|✘|error" 
