"""run_all.sh and the runner: option handling, failure reports, environment file."""
import json
import re
import subprocess
import time

import pytest

from tests.conftest import ROOT
from vjvcr.config import PROFILES, get_profile


def _run_all(*args, timeout=60):
    return subprocess.run(["bash", str(ROOT / "run_all.sh"), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize("args, needle", [
    (["--profile", "huge"], "Valid profiles: smoke quick paper gpu"),
    (["--profile=huge"], "Valid profiles: smoke quick paper gpu"),
    (["--fast"], "Valid options"),
    (["--only", "99_nothing"], "no notebook matches"),
    (["--profile"], "needs a value"),
])
def test_bad_options_are_refused_before_anything_runs(tmp_path, args, needle):
    t0 = time.perf_counter()
    r = _run_all(*args, "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert not (tmp_path / "out").exists(), "nothing may run for a refused option"
    assert time.perf_counter() - t0 < 10


def test_help():
    r = _run_all("--help")
    assert r.returncode == 0 and "--profile" in r.stdout and "--only" in r.stdout


def test_run_all_profile_list_matches_the_package():
    text = (ROOT / "run_all.sh").read_text()
    listed = re.search(r'^PROFILES="([^"]+)"', text, re.M).group(1).split()
    assert listed == list(PROFILES)


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
    status = runner.run("smoke", out, tmp_path / "data")
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
