"""run_all.sh and the runner: option handling, failure reports, environment file."""
import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from vjvcr.config import get_profile
from vjvcr.context import setup


def _run_all(*args, timeout=60):
    return subprocess.run(["bash", str(ROOT / "run_all.sh"), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize("args, needle", [
    (["--profile", "huge"], "invalid choice: 'huge' (choose from 'smoke', 'quick', 'paper', 'gpu'"),
    (["--profile=huge"], "invalid choice: 'huge'"),
    (["--fast"], "unrecognized arguments: --fast"),
    (["--only", "99_nothing"], "no notebook matches"),
    (["--only", ""], "no notebook matches ''"),
    (["--profile"], "expected one argument"),
])
def test_bad_options_are_refused_before_anything_runs(tmp_path, args, needle):
    t0 = time.perf_counter()
    r = _run_all(*args, "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists(), "nothing may run for a refused option"
    assert time.perf_counter() - t0 < 10


def test_help():
    r = _run_all("--help")
    assert r.returncode == 0 and "--profile" in r.stdout and "--only" in r.stdout


def test_the_command_line_lists_what_the_package_has():
    """vjvcr.cli names variants and steps without importing torch; they must be the package's."""
    from vjvcr import cli, plans
    from vjvcr.__main__ import steps
    from vjvcr.runconfig import BASELINES, VARIANTS

    assert cli.VARIANT_NAMES == (*VARIANTS, *BASELINES)
    assert set(cli.TRAINING_STEPS) == set(plans.STEP_RUNS)
    assert set(cli.STEP_NAMES) | set(cli.EXTRA_STEPS) == set(steps())
    r = subprocess.run([sys.executable, "-c", "import sys, vjvcr.cli, vjvcr.context; sys.exit('torch' in sys.modules)"],
                       cwd=ROOT)
    assert r.returncode == 0, "the command line must not import torch before it has checked the options"


def test_python_m_vjvcr_help_lists_every_subcommand():
    r = subprocess.run([sys.executable, "-m", "vjvcr", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0
    for name in ("notebooks", "step", "ddp", "submit"):
        assert name in r.stdout


def test_unknown_profile_in_python():
    with pytest.raises(ValueError, match="valid profiles: smoke, quick, paper, gpu"):
        get_profile("huge")


def test_environment_yml_agrees_with_requirements():
    from vjvcr import envfile

    assert envfile.main(["--check"]) == 0
    reqs = envfile.pinned_requirements()
    assert "torch==2.14.1" in reqs and "torchvision==0.29.1" in reqs
    assert all("==" in r for r in reqs), "every requirement is pinned"


def test_failing_notebook_is_named_with_cell_and_executed_copy(tmp_path, monkeypatch, capsys):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from vjvcr import runner

    books = tmp_path / "notebooks"
    books.mkdir()
    for name, cells in [("00_ok", ["profile = 'x'\nout_dir = data_dir = ''", "x = 1"]),
                        ("01_bad", ["profile = 'x'\nout_dir = data_dir = ''", "y = 2",
                                    "raise RuntimeError('boom in cell two')"]),
                        ("02_never", ["profile = 'x'\nout_dir = data_dir = ''",
                                      "open('ran','w').write('1')"])]:
        nb = new_notebook(cells=[new_code_cell(c) for c in cells])
        nb.cells[0].metadata["tags"] = ["parameters"]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, books / f"{name}.ipynb")
    monkeypatch.setattr(runner, "NOTEBOOKS", books)
    out = tmp_path / "out"
    from vjvcr.context import setup

    status = runner.run(setup("smoke", out, tmp_path / "data"))
    err = capsys.readouterr().err
    assert status == 1
    assert "01_bad.ipynb failed in cell" in err and "boom in cell two" in err
    assert str(out / "notebooks" / "01_bad.ipynb") in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["notebooks"]["00_ok"]["status"] == "ok"
    assert manifest["notebooks"]["01_bad"]["status"] == "failed"
    assert "02_never" not in manifest["notebooks"] and not (books / "ran").exists()
    executed = nbformat.read(out / "notebooks" / "01_bad.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells for o in c.get("outputs", []))


def test_recorded_commands_and_paths_name_no_folder_of_this_machine(tmp_path):
    from vjvcr.context import shown_command, shown_path

    assert shown_path(ROOT / "figures" / "study") == "figures/study"
    assert shown_path(tmp_path / "quickdata") == ".../quickdata"
    assert shown_command(["step", "study", "--data", str(tmp_path / "d"), f"--out={ROOT / 'figures'}", "--seeds", "3"]) \
        == "python -m vjvcr step study --data .../d --out=figures --seeds 3"


def test_the_manifest_lists_the_planned_runs_and_counts_the_others(tmp_path):
    from vjvcr import plans
    from vjvcr.manifest import Manifest

    ctx = setup("smoke", tmp_path / "out", tmp_path / "data")
    run = plans.table1(ctx)[0]
    for folder in (run.folder, ctx.runs_dir / "vjvcr_seed0-0123abcd"):  # planned; of another design
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"config": {"train": {"steps": 5}}}))
        (folder / "metrics.jsonl").write_text(json.dumps({"step": 5, "seconds": 1.0, "loss": 0.1}) + "\n")
    manifest = Manifest(ctx, kind="steps", command="test")
    manifest.data["steps"] = {"pretrain": {}}
    record = manifest.runs()
    assert list(record["runs"]) == [run.folder.name] and record["runs"][run.folder.name]["complete"]
    assert record["other_run_folders"] == 1
    assert record["summed_train_s"] == 1.0  # the planned run's seconds only, not the other folder's
    assert record["runs_trained_by_this_invocation"] == 0  # written before the manifest's invocation began
    os.utime(run.folder / "metrics.jsonl", (manifest.since + 1, manifest.since + 1))  # as if it trained since
    assert manifest.runs()["runs_trained_by_this_invocation"] == 1
    manifest.data["steps"] = {"data": {}}  # a step that trains nothing lists no run
    assert manifest.runs() == {"runs": {}, "other_run_folders": 2, "summed_train_s": 0,
                               "runs_trained_by_this_invocation": 0}


def test_the_readme_says_whether_the_last_invocation_trained_the_runs():
    from vjvcr.readme import trained_where

    runs = {"a": {}, "b": {}}
    assert "trained all 2 runs from scratch" in trained_where(dict(runs=runs, runs_trained_by_this_invocation=2))
    assert "reuse runs already trained" in trained_where(dict(runs=runs, runs_trained_by_this_invocation=0))
    assert "trained 1 of the 2 runs" in trained_where(dict(runs=runs, runs_trained_by_this_invocation=1))
    assert "may reuse" in trained_where(dict(runs=runs))  # a manifest of before the count


def test_the_manifest_records_every_run_folder_with_a_warning_when_the_plans_fail(tmp_path, monkeypatch):
    from vjvcr import plans
    from vjvcr.manifest import Manifest

    ctx = setup("smoke", tmp_path / "out", tmp_path / "data")
    folder = ctx.runs_dir / "vjvcr_seed0-0123abcd"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"config": {"train": {"steps": 5}}}))

    def broken(ctx, sections):
        raise KeyError("profile section")

    monkeypatch.setattr(plans, "planned_folders", broken)
    manifest = Manifest(ctx, kind="steps", command="test")
    manifest.data["steps"] = {"pretrain": {}}
    with pytest.warns(UserWarning, match="planned runs could not be listed"):
        record = manifest.runs()
    assert list(record["runs"]) == [folder.name] and "other_run_folders" not in record


def test_the_manifest_names_the_cpu_and_its_instruction_sets(tmp_path):
    """Runs on two CPUs differ in their last bits: the manifest records which CPU ran them."""
    from vjvcr.manifest import cpu_record

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\nflags\t\t: fpu sse2 avx avx2 avx512f\n\n"
                    "processor\t: 1\nmodel name\t: Example CPU @ 2.0GHz\nflags\t\t: fpu sse2 avx avx2 avx512f\n")
    assert cpu_record(info) == dict(cpu_model="Example CPU @ 2.0GHz", cpu_features=["avx2", "avx512f"])
    missing = cpu_record(tmp_path / "absent")
    assert missing["cpu_features"] is None and missing["cpu_model"]
    # and the manifest carries this machine's record, its device line naming the same CPU
    from vjvcr.manifest import environment_record
    import torch

    env, here = environment_record(), cpu_record()
    assert env["cpu_model"] == here["cpu_model"] and env["cpu_features"] == here["cpu_features"]
    if not torch.cuda.is_available():
        assert env["device"].startswith(f"cpu: {here['cpu_model']}, ")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PSS is a Linux measure")
def test_peak_memory_counts_shared_pages_once_in_pss_and_once_per_process_in_rss():
    """A forked child shares its parent's 200 MB (copy-on-write): summed RSS counts them twice, summed PSS once."""
    import multiprocessing as mp

    from vjvcr.manifest import PeakMemory

    block = bytearray(os.urandom(1024)) * (200 * 1024)  # 200 MB, every page written
    mb = 2**20
    with PeakMemory(interval=0.05, pss_every=1) as mem:
        child = mp.get_context("fork").Process(target=time.sleep, args=(1.5,))
        child.start()
        child.join()
    assert len(block) == 200 * mb
    assert mem.peak >= 2 * 200 * mb  # the parent's block and the child's view of it
    assert 200 * mb <= mem.peak_pss <= mem.peak - 150 * mb
