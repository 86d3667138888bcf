#!/usr/bin/env bash
# Fetches Twilio's OpenAPI spec (in @twilio/cli-core 9.0.0) with `npm ci` for
# tests/twilio_spec.rs. Idempotent: a no-op when node_modules matches package-lock.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
spec=node_modules/@twilio/cli-core/src/services/twilio-api/twilio_api_v2010.json
stamp=node_modules/.package-lock.json
ready() { [ -f "$spec" ] && [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ]; }
ready && exit 0
# Tests run in parallel processes: one runs npm ci, the others wait for it.
exec 9>.setup.lock
flock 9
ready && exit 0
echo "==> npm ci in loadtests/spec (Twilio's OpenAPI spec)"
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
touch "$stamp"
