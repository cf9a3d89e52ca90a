# Sourced by run_tests.sh: makes Debian's Chromium available for the real-browser test
# (tests/test_browser.py drives it with Python Playwright; `playwright install` is never used).
# Sets VJVCR_CHROMIUM to its path, or explains loudly why the browser test will be skipped.
_chromium="${VJVCR_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [ -z "$_chromium" ] && command -v apt-get >/dev/null 2>&1; then
  _sudo=""
  [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null && _sudo="sudo -n"; }
  if [ "$(id -u)" = 0 ] || [ -n "$_sudo" ]; then
    echo "[env] installing Debian's chromium for the real-browser test (about a minute)..." >&2
    { $_sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -qq chromium; } >&2 \
      || echo "[env] WARNING: apt-get could not install chromium; the browser test will be SKIPPED" >&2
    _chromium="$(command -v chromium || true)"
  fi
fi
if [ -z "$_chromium" ]; then
  echo "[env] WARNING: no chromium and no way to install it (apt-get as root or sudo):" \
       "the real-browser JupyterLab test will be SKIPPED" >&2
else
  export VJVCR_CHROMIUM="$_chromium"
fi
