#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing (a venv with tox; as root
# the local Slurm cluster, XRootD and WebDAV servers), then every tox environment. Extra args go to tox.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv tox tox
if [[ $(id -u) -eq 0 ]]; then
    bash scripts/slurm-cluster.sh start
    bash scripts/sge-cluster.sh start
    bash scripts/xrootd-server.sh start
    bash scripts/webdav-server.sh start
else
    echo "Not root: not starting the local Slurm cluster, SGE cell, XRootD and WebDAV servers; their tests will skip (or fail where B2CORE_REQUIRE_CLUSTERS=1)."
fi
# Every environment, each verified on a clean checkout
# (run one alone with TOX_ENVS=gbasf2 bash scripts/run-tests.sh).
envs="lint,core,faults,example,docs,slurm,htcondor,lsf,sge,gbasf2,apptainer,b2luigi,xrootd,webdav,fsspec,basf2,scheduler-scale"
exec .venv/bin/tox run -e "${TOX_ENVS:-$envs}" "$@"
