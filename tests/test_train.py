"""The training loop: it learns, VC prevents collapse, resume is exact, bad input is named."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from vjvcr.checkpoints import load_checkpoint, read_metrics
from vjvcr.config import SMOKE
from vjvcr.data import make_moving_mnist
from vjvcr.probes import encode, linear_probe
from vjvcr.runconfig import ConfigMismatchError, RunConfig
from vjvcr.checkpoints import snapshot_steps
from vjvcr.train import NonFiniteLossError, train


@pytest.fixture(scope="module")
def clips(digits):
    return make_moving_mnist(256, seed=0, size=32, digit_size=14, digits=digits)


def cfg(variant="vjvcr", **train_kw):
    tc = replace(SMOKE.train, **{"steps": 20, "checkpoint_every": 5, **train_kw})
    return RunConfig(variant=variant, seed=0, data=SMOKE.data, model=SMOKE.model, train=tc)


def h_std(model, frames):
    h = encode(model, frames[:128], features=("h_x",))["h_x"].reshape(128, 3, -1)
    return h.std(axis=0).mean()


def test_training_lowers_the_loss_and_vc_prevents_collapse(tmp_path, clips):
    torch.set_num_threads(2)
    steps = dict(steps=150, lr=3e-3, warmup_steps=10)
    vc = train(tmp_path / "vc", cfg(**steps), clips.frames, device="cpu", progress=False, log_every=5)
    none = train(tmp_path / "none", cfg(var_weight=0.0, cov_weight=0.0, **steps), clips.frames,
                 device="cpu", progress=False, log_every=5)
    m_vc, m_none = read_metrics(tmp_path / "vc"), read_metrics(tmp_path / "none")
    first, last = np.mean([r["loss"] for r in m_vc[:3]]), np.mean([r["loss"] for r in m_vc[-3:]])
    assert last < 0.7 * first, f"VJ-VCR loss did not drop: {first:.3f} -> {last:.3f}"
    std_vc, std_none = h_std(vc.model, clips.frames), h_std(none.model, clips.frames)
    print(f"per-dimension std of h_x: with VC {std_vc:.3f}, without {std_none:.4f}")
    assert std_vc > 0.3, "with the VC terms the representation must keep its spread"
    assert std_none < 0.1 * std_vc, "without them the same model collapses"
    # the collapsed model's prediction loss is ~0: it 'solved' the task by predicting a constant
    assert m_none[-1]["pred"] < 0.1 * m_vc[-1]["pred"]


def test_resume_in_two_halves_equals_one_run(tmp_path, clips):
    c = cfg(steps=12, checkpoint_every=4)
    straight = train(tmp_path / "a", c, clips.frames, device="cpu", progress=False)
    half = train(tmp_path / "b", c, clips.frames, device="cpu", progress=False, stop_at=6)
    assert half.step == 6
    resumed = train(tmp_path / "b", c, clips.frames, device="cpu", progress=False)
    assert resumed.resumed_from == 6 and resumed.step == 12
    for (name, p), q in zip(straight.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(p, q), name
    # metrics of the two halves join up without duplicates
    assert [r["step"] for r in read_metrics(tmp_path / "b")] == [r["step"] for r in read_metrics(tmp_path / "a")]
    # a finished run is not retrained
    again = train(tmp_path / "b", c, clips.frames, device="cpu", progress=False)
    assert again.resumed_from == 12


def test_checkpoints_load_with_weights_only_and_snapshots_exist(tmp_path, clips):
    c = cfg(steps=16, num_snapshots=3)
    train(tmp_path, c, clips.frames, device="cpu", progress=False)
    ck = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ck["step"] == 16 and "optimizer" in ck
    assert snapshot_steps(c.train) == [0, 1, 16]  # 0, then geometric from steps/16 to steps
    for s in snapshot_steps(c.train):
        assert load_checkpoint(tmp_path / f"snap_{s:06d}.pt")["step"] == s


def test_mismatched_configuration_is_refused_and_nothing_is_lost(tmp_path, clips):
    train(tmp_path, cfg(steps=10), clips.frames, device="cpu", progress=False)
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(ConfigMismatchError, match=r"differs in: train\.lr.*delete"):
        train(tmp_path, cfg(steps=10, lr=0.5), clips.frames, device="cpu", progress=False)
    assert (tmp_path / "last.pt").read_bytes() == before
    assert json.loads((tmp_path / "config.json").read_text())["config"]["train"]["lr"] == SMOKE.train.lr


def test_nan_loss_stops_with_the_step_and_last_good_checkpoint(tmp_path, clips, monkeypatch):
    import vjvcr.train
    from vjvcr.losses import energy

    calls = {"n": 0}

    def poisoned_for(c):
        def poisoned(model, clip):
            loss, terms = energy(model, clip, c)
            calls["n"] += 1
            return (loss * math.nan if calls["n"] == 8 else loss), terms

        return poisoned

    monkeypatch.setattr(vjvcr.train, "objective_for", poisoned_for)
    with pytest.raises(NonFiniteLossError, match=r"at step 7 .*last\.pt \(step 5\)"):
        train(tmp_path, cfg(steps=20, checkpoint_every=5), clips.frames, device="cpu", progress=False)
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 5
    for p in load_checkpoint(tmp_path / "last.pt")["model"].values():
        assert torch.isfinite(p.float()).all()


def test_linear_probe_recovers_a_linear_target_and_not_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 10))
    y = x @ rng.normal(size=10) + 0.01 * rng.normal(size=2000)
    good = linear_probe(x[:1500], y[:1500], x[1500:], y[1500:])
    assert good["r2"] > 0.99 and good["mse"] < 0.01
    noise = linear_probe(rng.normal(size=(1500, 10)), y[:1500], rng.normal(size=(500, 10)), y[1500:])
    assert noise["r2"] < 0.05 and noise["mse"] > 0.9


def _hold_lock(run_dir):
    """A second process that takes the run folder's lock and keeps it until killed."""
    import subprocess
    import sys

    code = ("import sys, time\nfrom vjvcr.fileio import run_lock\n"
            "with run_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_second_process_cannot_train_the_same_run_folder(tmp_path, clips):
    from vjvcr.fileio import RunLockedError

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = _hold_lock(run_dir)
    try:
        with pytest.raises(RunLockedError, match=f"process {holder.pid}"):
            train(run_dir, cfg(steps=4), clips.frames, progress=False)
        assert not (run_dir / "metrics.jsonl").exists() and not (run_dir / "config.json").exists()
    finally:
        holder.kill()
        holder.wait()
    res = train(run_dir, cfg(steps=4), clips.frames, progress=False)  # the killed holder's lock is taken over
    assert res.step == 4


def test_the_lock_is_released_after_training_and_after_an_error(tmp_path, clips):
    from vjvcr.fileio import run_lock

    run_dir = tmp_path / "run"
    train(run_dir, cfg(steps=2), clips.frames, progress=False)
    with pytest.raises(ConfigMismatchError):
        train(run_dir, cfg(steps=2, lr=1.0), clips.frames, progress=False)
    with run_lock(run_dir):  # free again in this process
        pass
    holder = _hold_lock(run_dir)  # and in another
    holder.kill()
    holder.wait()


def test_the_supervised_ceiling_learns_speed_beyond_the_random_encoder(tmp_path, digits):
    """The same encoder trained on the speed label: its h_x carries speed linearly, the untrained one's barely."""
    from vjvcr.datasets import standardised
    from vjvcr.probes import calibrate_batchnorm, speed_probe
    from vjvcr.runconfig import build_model

    clips = make_moving_mnist(1024, seed=0, size=32, digit_size=14, digits=digits)
    test = make_moving_mnist(256, seed=1, size=32, digit_size=14, digits=digits)
    c = cfg("supervised", steps=150, lr=3e-3)
    res = train(tmp_path / "sup", c, clips.frames, progress=False, labels=standardised(clips.mean_speed))
    metrics = read_metrics(tmp_path / "sup")
    assert metrics[-1]["label_mse"] < 0.5 * metrics[0]["label_mse"], "the label loss must drop"
    random = build_model(c)
    calibrate_batchnorm(random, clips.frames)
    kw = dict(num_train=1024, num_test=256, features=("h_x",))
    r2_sup = speed_probe(res.model, clips, test, **kw)["h_x"]["r2"]
    r2_rand = speed_probe(random, clips, test, **kw)["h_x"]["r2"]
    assert r2_sup > r2_rand + 0.2, (r2_sup, r2_rand)
