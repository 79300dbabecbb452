#!/usr/bin/env bash
# Builds a wheel of the core and of every plugin in this checkout into one folder (default
# dist/wheels, or WHEEL_DIR), so `pip install --find-links dist/wheels b2core b2core-slurm` works
# without a package index that knows b2core. The build tools go into one throw-away venv, once,
# instead of one isolated build environment per distribution. Extra args go to `pip wheel`.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${WHEEL_DIR:-dist/wheels}
mkdir -p "$out"
build_env=$(mktemp -d)
trap 'rm -rf "$build_env"' EXIT
python3 -m venv "$build_env"
"$build_env/bin/pip" install --quiet "setuptools>=68" wheel
# --no-deps: only b2core's own distributions land here; pip install fetches luigi & co. as usual
"$build_env/bin/pip" wheel --quiet --no-deps --no-build-isolation --wheel-dir "$out" "$@" . plugins/*/
echo "Wheels in $out:"
ls -1 "$out"
