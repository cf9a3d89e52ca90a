#!/usr/bin/env bash
# The test command: sets up (or reuses) the environment and Debian's chromium (for the
# real-browser test), then runs the whole pytest suite.
# Extra arguments go to pytest, e.g. ./run_tests.sh -k moving_mnist -x
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_env.sh
source scripts/ensure_browser.sh
exec "$PY" -m pytest -q -ra "$@"
