#!/usr/bin/env bash
# Builds a wheel of the core and of every plugin in this checkout into one folder (default
# dist/wheels), so `pip install --find-links dist/wheels b2core b2core-slurm` works without a
# package index that knows b2core. Extra args go to `pip wheel` (e.g. --quiet).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${WHEEL_DIR:-dist/wheels}
mkdir -p "$out"
python=${PYTHON:-python3}
if ! "$python" -m pip --version >/dev/null 2>&1; then
    source scripts/venv.sh
    ensure_venv pip pip
    python=.venv/bin/python
fi
# --no-deps: only b2core's own distributions land here; pip install fetches luigi & co. as usual
"$python" -m pip wheel --no-deps --wheel-dir "$out" "$@" . plugins/*/
echo "Wheels in $out:"
ls -1 "$out"
