#!/usr/bin/env bash
# Makes loadtests/.venv with the official Twilio helper library (twilio==9.13.0 from PyPI), used
# by tests/twilio_official.rs to check signature agreement. Idempotent: a no-op when present.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$here/.venv"
want="9.13.0"
ready() { "$venv/bin/python" -c "import twilio, sys; sys.exit(twilio.__version__ != '$want')" 2>/dev/null; }
ready && exit 0
# Tests run in parallel processes: one makes the venv, the others wait for it.
exec 9>"$here/.venv.lock"
flock 9
ready && exit 0
echo "==> making $venv with twilio==$want"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "twilio==$want"
