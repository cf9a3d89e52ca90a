#!/usr/bin/env bash
# Regenerate every figure and table: runs notebooks/NN_*.ipynb in order with papermill.
set -euo pipefail
cd "$(dirname "$0")"

PROFILES="smoke quick paper gpu study"   # must match vjvcr.config.PROFILES (a test checks)
usage() {
  cat <<USAGE
Usage: ./run_all.sh [--profile smoke|quick|paper|gpu|study] [--out DIR] [--only NOTEBOOK]... [--data DIR]

Runs the notebooks in notebooks/ in order with papermill and writes figures, tables,
executed notebooks (DIR/notebooks/) and manifest.json into DIR.

  --profile NAME   smoke (tests, ~2 min), quick (default: every figure on a 2-core CPU),
                   paper (paper-scale settings for one GPU), gpu (paper shapes in one short GPU
                   window; benchmarks/gpu_run.sh runs it without Jupyter, with a time budget),
                   study (the claim-1 study on the quick settings: with --only 07)
  --out DIR        output folder (default: figures/ for quick, figures/<profile>/ otherwise)
  --only NB        run only this notebook (name or number, e.g. 02_probing or 02); repeatable.
                   Earlier notebooks' cached data and checkpoints are reused. 07_claim1_study
                   runs only when named (./run_all.sh --profile study --only 07).
  --data DIR       data and run cache (default: data/)
  -h, --help       this help

Stops at the first failing notebook and names the cell and the executed copy that holds
the traceback. Trained models are cached under DATA/runs and resumed, not retrained.
USAGE
}

profile=quick; out=""; data=data; only=()
need() {  # need OPTION WHAT NARGS NEXT: the option's value must exist and not be another option
  if [ "$3" -lt 2 ] || [ "${4#-}" != "$4" ]; then echo "error: $1 needs a value: $2" >&2; exit 2; fi
}
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) need --profile "one of $PROFILES" $# "${2-}"; profile="$2"; shift 2 ;;
    --profile=*) profile="${1#*=}"; shift ;;
    --out) need --out "a folder" $# "${2-}"; out="$2"; shift 2 ;;
    --out=*) out="${1#*=}"; shift ;;
    --only) need --only "a notebook name or number" $# "${2-}"; only+=("$2"); shift 2 ;;
    --only=*) only+=("${1#*=}"); shift ;;
    --data) need --data "a folder" $# "${2-}"; data="$2"; shift 2 ;;
    --data=*) data="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option '$1'. Valid options: --profile {${PROFILES// /|}}, --out DIR, --only NOTEBOOK, --data DIR, --help" >&2; exit 2 ;;
  esac
done
case " $PROFILES " in
  *" $profile "*) ;;
  *) echo "error: unknown profile '$profile'. Valid profiles: $PROFILES" >&2; exit 2 ;;
esac
for nb in ${only[@]+"${only[@]}"}; do
  ls notebooks/"${nb%.ipynb}"*.ipynb >/dev/null 2>&1 || {
    echo "error: no notebook matches '$nb'. Notebooks: $(cd notebooks && ls [0-9]*.ipynb | tr '\n' ' ')" >&2; exit 2; }
done
[ -n "$out" ] || { [ "$profile" = quick ] && out=figures || out="figures/$profile"; }
check_folder() {  # check_folder OPTION PATH: an existing writable folder, or a new one in a writable folder
  local where="$2"
  if [ -e "$2" ]; then
    [ -d "$2" ] || { echo "error: $1 '$2' is a file, not a folder; give a folder path" >&2; exit 2; }
  else
    where="$(dirname -- "$2")"
    [ -d "$where" ] || { echo "error: $1 '$2' is under a missing folder '$where'; create that folder first or give another path" >&2; exit 2; }
  fi
  local probe  # a folder made and removed again: root passes 'test -w' even where nothing can be created
  probe="$(mktemp -d "$where/.vjvcr-write-test-XXXXXX" 2>/dev/null)" && rmdir "$probe" \
    || { echo "error: $1 '$2' is not writable ('$where'); give a folder you can write to" >&2; exit 2; }
}
check_folder --out "$out"
check_folder --data "$data"

source scripts/ensure_env.sh
args=(--profile "$profile" --out "$out" --data "$data")
for nb in ${only[@]+"${only[@]}"}; do args+=(--only "$nb"); done
exec "$PY" -m vjvcr.runner "${args[@]}"
