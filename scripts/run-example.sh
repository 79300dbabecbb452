#!/usr/bin/env bash
# Runs the README example on a fresh machine: a venv with b2core, then 100 number tasks and
# their average on the local backend. Prints where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv b2core -e .
cd examples
exec ../.venv/bin/python number_average.py "$@"
