#!/usr/bin/env bash
# Runs the README example on a fresh machine: a venv with b2core, then 100 number tasks and
# their average on the local backend. Prints where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c "import b2core" 2>/dev/null; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -e .
fi
cd examples
exec ../.venv/bin/python number_average.py "$@"
