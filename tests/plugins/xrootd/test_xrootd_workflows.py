"""The seeds' number/average workflow with every output on the real XRootD server, and its faults."""

from __future__ import annotations

import pytest
from remote_scenarios import (
    check_kill_mid_upload,
    check_number_average,
    check_second_door,
    check_server_stops_mid_run,
)


def test_number_average_locally(flow, fs) -> None:
    flow.write()
    check_number_average(flow, fs)


@pytest.mark.slurm
def test_number_average_on_slurm(flow, fs, slurm_cluster) -> None:
    flow.write(batch_system="slurm")
    check_number_average(flow, fs, "--batch")


def test_killed_upload_leaves_no_final_file(flow, fs) -> None:
    check_kill_mid_upload(flow, fs)


def test_server_stopping_mid_run_is_retried_then_named(flow, private_xrootd) -> None:
    check_server_stops_mid_run(flow, private_xrootd)


def test_a_dead_first_door_is_skipped(flow, fs, private_xrootd) -> None:
    private_xrootd.stop()
    check_second_door(flow, fs, private_xrootd.url)
