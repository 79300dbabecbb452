"""The seeds' number/average workflow with every output on the real WebDAV server, and its faults."""

from __future__ import annotations

import pytest
from remote_scenarios import (
    check_kill_mid_upload,
    check_number_average,
    check_second_door,
    check_server_stops_mid_run,
    show,
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


def test_server_stopping_mid_run_is_retried_then_named(flow, private_webdav) -> None:
    check_server_stops_mid_run(flow, private_webdav)


def test_a_dead_first_door_is_skipped(flow, fs, private_webdav) -> None:
    private_webdav.stop()
    check_second_door(flow, fs, private_webdav.url)


def test_wrong_credentials_fail_at_once_with_a_clear_error(flow, protocol) -> None:
    wrong = str(protocol.settings["X509_USER_PROXY"]).replace("x509up", "wrong-x509up")
    protocol.settings = {**protocol.settings, "X509_USER_PROXY": wrong}
    flow.write(numbers=2)
    result = flow.run()
    assert result.returncode != 0, show(result)
    assert "TLS failed: " in result.stderr, show(result)  # the alert, or a hang-up under TLS 1.3
    assert f"X509_USER_PROXY={wrong}" in result.stderr, show(result)
