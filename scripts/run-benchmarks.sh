#!/usr/bin/env bash
# Runs the benchmarks (b2core against plain luigi, in the same run) on a fresh machine: a venv with
# b2core, then benchmarks/run.py, which writes docs/benchmarks.md. Arguments are passed on
# (--quick for a smoke run of about two minutes that writes nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv b2core -e .
exec .venv/bin/python benchmarks/run.py "$@"
