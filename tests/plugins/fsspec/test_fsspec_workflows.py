"""The seeds' number/average workflow with every output on fsspec's local file system (file://)."""

from __future__ import annotations

import pytest
from remote_scenarios import check_number_average


def test_number_average_locally(flow, fs) -> None:
    flow.write()
    check_number_average(flow, fs)


@pytest.mark.slurm
def test_number_average_on_slurm(flow, fs, slurm_cluster) -> None:
    flow.write(batch_system="slurm")
    check_number_average(flow, fs, "--batch")
