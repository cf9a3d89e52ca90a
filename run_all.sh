#!/usr/bin/env bash
# Regenerate every figure and table: the notebooks in order, with papermill, into figures/.
#   ./run_all.sh [--profile smoke|quick|paper|gpu|study] [--out DIR] [--only NB]... [--data DIR]
# The options are python -m vjvcr notebooks's (./run_all.sh --help); this script only adds the
# environment (.venv, created or reused) and makes sure this checkout's vjvcr is the one that runs.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")" && pwd)"
source "$ROOT/scripts/ensure_env.sh"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONSAFEPATH=1
exec "$PY" -m vjvcr notebooks "$@"
