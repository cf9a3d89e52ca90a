# Sourced by run_all.sh and run_tests.sh: sets PY to a Python that has the pinned stack.
#
# Reuses the active environment when it already has everything (a conda env made from
# environment.yml, say); otherwise creates or reuses the project's .venv, reinstalling
# only when requirements.txt or pyproject.toml changed since the last install.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_check='import torch, torchvision, papermill, ipykernel, ipywidgets, matplotlib, seaborn, pandas, sklearn, tqdm, av, psutil, pytest, playwright, vjvcr'

if [ -n "${VIRTUAL_ENV:-}${CONDA_PREFIX:-}" ] && [ "${VIRTUAL_ENV:-}" != "$_root/.venv" ] \
   && python -c "$_check" >/dev/null 2>&1; then
  PY="$(command -v python)"
else
  _venv="${VJVCR_VENV:-$_root/.venv}"
  _want="$(cat "$_root/requirements.txt" "$_root/pyproject.toml" | sha256sum | cut -c1-16)"
  if [ ! -x "$_venv/bin/python" ] || [ "$(cat "$_venv/.vjvcr-stamp" 2>/dev/null)" != "$_want" ]; then
    echo "[env] setting up the virtual environment in $_venv (first time: several minutes)..." >&2
    _base="${VJVCR_BASE_PYTHON:-python3}"
    [ -x "$_venv/bin/python" ] || "$_base" -m venv "$_venv" || { echo "[env] could not create $_venv with $_base" >&2; exit 1; }
    "$_venv/bin/python" -m pip install -q --upgrade pip >&2 2>/dev/null || true
    "$_venv/bin/python" -m pip install -q -r "$_root/requirements.txt" >&2 \
      || { echo "[env] pip install -r requirements.txt failed (see above)" >&2; exit 1; }
    "$_venv/bin/python" -m pip install -q --no-deps -e "$_root" >&2 \
      || { echo "[env] pip install -e . failed (see above)" >&2; exit 1; }
    echo "$_want" > "$_venv/.vjvcr-stamp"
  fi
  PY="$_venv/bin/python"
fi
export PY
