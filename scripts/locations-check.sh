#!/usr/bin/env bash
# Issue 9's done-when at its size: three locations in one appliance (own rules, own CallTools
# account), the third on OAuth with an access token that expires every 30 s throughout; 3,000
# signed webhooks spread over three token lifetimes, then a full pass per location; every
# contact must end where dry-run of its GHL data says, with no dead letter, no GHL 429 (each
# sandbox is one location and counts its own budget) and no more 401s than expiries.
# CI runs the same test with 300 webhooks and 2-second tokens (LocationsRunTests).
#   scripts/locations-check.sh [WEBHOOKS] [TOKEN_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
LEADSYNC_LOCATIONS_WEBHOOKS="${1:-3000}" LEADSYNC_LOCATIONS_TOKEN_SECONDS="${2:-30}" \
    swift test --filter "LocationsRunTests" 2>&1 | grep -E "locations check:|✔|✘|error"
