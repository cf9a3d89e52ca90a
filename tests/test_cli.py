"""Bad options of ./run_all.sh and python -m vjvcr: one line, exit status 2, nothing written."""
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _experiments(*args):
    return subprocess.run([sys.executable, "-m", "vjvcr", "step", *args], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)


def _run_all(*args):
    return subprocess.run(["bash", str(ROOT / "run_all.sh"), *args], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def _refused(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one error line, got: {r.stderr}"
    assert "Traceback" not in r.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.fixture
def folders(tmp_path):
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("not a folder")
    locked = tmp_path / "locked"
    locked.mkdir()
    return dict(tmp=tmp_path, file=a_file, missing_parent=tmp_path / "no" / "such" / "out", locked=locked)


@pytest.mark.parametrize("args, needles", [
    (["--seeds", "x"], ["'x'", "not an integer", "0,1"]),
    (["--seeds", "0,-1"], ["-1", "negative"]),
    (["--variants", "vjvcr,best"], ["'best'", "valid variants: vjvcr, vjvcr_dec, gen_vc, gen, supervised"]),
    (["--time-limit", "-5"], ["-5", "positive"]),
    (["--time-limit", "soon"], ["'soon'", "seconds"]),
    (["--device", "tpu"], ["'tpu'", "cpu or cuda"]),
    (["--profile", "huge"], ["'huge'", "smoke"]),
])
def test_experiments_refuses_bad_values_in_one_line(tmp_path, args, needles):
    out, data = tmp_path / "out", tmp_path / "data"
    r = _experiments("pretrain", "--profile", "smoke", "--out", str(out), "--data", str(data), *args)
    _refused(r, *needles)
    assert not out.exists() and not data.exists(), "a refused command must write nothing"


@pytest.mark.parametrize("option", ["--out", "--data"])
@pytest.mark.parametrize("kind, needle", [("file", "is a file"), ("missing_parent", "missing folder"),
                                          ("proc", "not writable")])
def test_bad_folders_are_refused_by_both_commands(folders, option, kind, needle):
    path = "/proc/nope" if kind == "proc" else str(folders[kind])
    other = "--data" if option == "--out" else "--out"
    other_path = folders["tmp"] / "other"
    for r in (_experiments("data", "--profile", "smoke", option, path, other, str(other_path)),
              _run_all("--profile", "smoke", option, path, other, str(other_path))):
        _refused(r, path, needle)
        assert not other_path.exists()
    if kind == "missing_parent":
        assert not (folders["tmp"] / "no").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only folder")
def test_an_unwritable_folder_is_refused(folders):
    folders["locked"].chmod(0o500)
    try:
        _refused(_experiments("data", "--profile", "smoke", "--out", str(folders["locked"] / "out")), "not writable")
    finally:
        folders["locked"].chmod(0o700)
