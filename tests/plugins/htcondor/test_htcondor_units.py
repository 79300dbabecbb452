"""Unit tests of the HTCondor backend: settings, the submit description, and parsing of the tools' outputs.

The command outputs below are the formats the HTCondor manual and sources document (condor_submit -terse
prints `first - last` per cluster; condor_q/condor_history -json print an array of ads, condor_q prints
nothing when no job matches; condor_rm complains on stderr about ids that are gone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import b2core
import pytest
from b2core.batch.backend import JobSpec, JobState
from b2core.batch.commands import CommandRunner
from b2core.errors import BatchCommandError, PermanentBatchError, SettingsError
from b2core.plugins import backend_class
from b2core.settings import get_setting, set_setting
from b2core.testing import ScriptedRunner
from b2core.testing.settings_check import assert_fails_once_at_start, each_batch_system_place
from b2core_htcondor.backend import (
    HTCondorBackend,
    parse_json_ads,
    parse_terse,
    status_from_ad,
    submit_description,
)

Q_TWO_ADS = """[
{
  "ClusterId": 6,
  "JobStatus": 2,
  "ProcId": 0
}
,
{
  "ClusterId": 6,
  "HoldReason": "Error from slot1_1@node: Job has gone over memory limit of 100 megabytes.",
  "JobStatus": 5,
  "ProcId": 1
}
]
"""
HISTORY = """[
{
  "ClusterId": 6,
  "ExitCode": 3,
  "ExitBySignal": false,
  "JobStatus": 4,
  "ProcId": 2
}
,
{
  "ClusterId": 6,
  "ExitCode": 0,
  "ExitBySignal": false,
  "JobStatus": 4,
  "ProcId": 3
}
]
"""
DAEMON_DOWN = (
    "\n-- Failed to fetch ads from: <127.0.0.1:9618?addrs=127.0.0.1-9618&alias=host&noUDP&sock=schedd_1_1> : host\n"
    "CEDAR:6001:Failed to connect to <127.0.0.1:9618?addrs=127.0.0.1-9618&alias=host&noUDP&sock=schedd_1_1>\n"
)


class Number(b2core.Task):
    number = b2core.IntParameter()


def backend(runner: CommandRunner | None = None) -> HTCondorBackend:
    """The backend class as the engine loads it (which registers its settings model)."""
    return backend_class("htcondor")(runner or CommandRunner())


def spec(folder: Path, name: str, settings: dict[str, Any] | None = None) -> JobSpec:
    logs = folder / "logs" / name
    return JobSpec(
        task_id=name,
        family="Number",
        wrapper=folder / "task_files" / name / "executable_wrapper.sh",
        stdout=logs / "stdout",
        stderr=logs / "stderr",
        log_dir=logs,
        task_file_dir=folder / "task_files" / name,
        job_name=None,
        settings=settings or {},
    )


# --- settings -------------------------------------------------------------------------------------


def test_htcondor_settings_merge_global_and_task_without_mutating_either() -> None:
    """The global dict is updated by the task's own in a new dict (b2luigi bug #12 must not return)."""
    site = {"request_memory": "1 GB", "requirements": "OpSysMajorVer == 9"}
    set_setting("htcondor_settings", site)

    class Named(Number):
        htcondor_settings = {"request_memory": "2 GB"}
        job_name = "first"

    first = backend().job_settings(Named(number=1))
    second = backend().job_settings(Number(number=2))
    assert first == {"request_memory": "2 GB", "requirements": "OpSysMajorVer == 9", "JobBatchName": "first"}
    assert second == {"request_memory": "1 GB", "requirements": "OpSysMajorVer == 9"}
    assert site == {"request_memory": "1 GB", "requirements": "OpSysMajorVer == 9"}
    assert Named.htcondor_settings == {"request_memory": "2 GB"}


def test_explicit_batch_name_in_htcondor_settings_wins_over_job_name() -> None:
    class Named(Number):
        job_name = "generic"
        htcondor_settings = {"JobBatchName": "specific"}

    assert backend().job_settings(Named(number=1)) == {"JobBatchName": "specific"}


def test_transfer_files_need_working_dir_dot_and_absolute_paths(tmp_path: Path) -> None:
    """The error names the task and what to change."""

    class Transfer(Number):
        transfer_files = [str(tmp_path / "project"), str(tmp_path / "settings.json")]

    task = Transfer(number=1)
    with pytest.raises(SettingsError, match=rf"Task {task.task_id}: transfer_files needs working_dir = '\.'"):
        backend().job_settings(task)

    class Relative(Transfer):
        working_dir = "."
        transfer_files = ["project"]

    with pytest.raises(SettingsError, match="transfer_files must be absolute paths, got project"):
        backend().job_settings(Relative(number=1))

    class Good(Transfer):
        working_dir = "."
        env_script = str(tmp_path / "setup.sh")

    options = backend().job_settings(Good(number=1))
    assert options == {
        "should_transfer_files": "YES",
        "when_to_transfer_output": "ON_EXIT",
        "transfer_input_files": f"{tmp_path}/project,{tmp_path}/settings.json,{tmp_path}/setup.sh",
    }


def test_per_job_submit_commands_cannot_be_overridden() -> None:
    class Bad(Number):
        htcondor_settings = {"output": "/tmp/all.out"}

    with pytest.raises(SettingsError, match="may not set 'output'"):
        backend().job_settings(Bad(number=1))

    class Multiline(Number):
        htcondor_settings = {"requirements": "true\nqueue 100"}

    with pytest.raises(SettingsError, match="single line"):
        backend().job_settings(Multiline(number=1))


def test_settings_are_typed() -> None:
    backend()
    assert get_setting("htcondor_release_held") == 0
    with pytest.raises(SettingsError, match="htcondor_release_held"):
        set_setting("htcondor_release_held", "often")


# --- submit description ---------------------------------------------------------------------------


def test_submit_description_has_one_queue_statement_with_an_item_per_task(tmp_path: Path) -> None:
    specs = [spec(tmp_path, f"task{i}") for i in range(3)]
    text = submit_description({"request_memory": "100 MB", "JobBatchName": "numbers"}, specs)
    lines = text.splitlines()
    assert "request_memory = 100 MB" in lines and "JobBatchName = numbers" in lines
    assert "executable = $(b2core_wrapper)" in lines and "log = $(b2core_log)" in lines
    assert lines.count("queue b2core_wrapper,b2core_stdout,b2core_stderr,b2core_log from (") == 1
    item = lines[lines.index("queue b2core_wrapper,b2core_stdout,b2core_stderr,b2core_log from (") + 1]
    logs = tmp_path / "logs" / "task0"
    assert item == f"{specs[0].wrapper},{logs}/stdout,{logs}/stderr,{logs}/job.log"
    assert lines[-1] == ")"


def test_paths_with_blanks_fall_back_to_one_queue_per_task(tmp_path: Path) -> None:
    folder = tmp_path / "my analysis"
    text = submit_description({"log": "/tmp/all.log"}, [spec(folder, "a"), spec(folder, "cost$1")])
    assert "from (" not in text
    assert text.count("queue 1") == 2
    assert f"executable = {folder}/task_files/a/executable_wrapper.sh" in text
    assert "cost$(DOLLAR)1/stderr" in text
    assert "log = $(b2core_log)" not in text and f"log = {folder}" not in text


# --- parsing ----------------------------------------------------------------------------------------


def test_parse_terse_reads_every_cluster_in_order() -> None:
    assert parse_terse("6.0 - 6.2\n") == ["6.0", "6.1", "6.2"]
    assert parse_terse("7.0 - 7.0\n8.0 - 8.1\n") == ["7.0", "8.0", "8.1"]
    assert parse_terse("Submitting job(s).\n1 job(s) submitted to cluster 6.\n") == []


def test_parse_json_ads_handles_empty_and_array_output() -> None:
    assert parse_json_ads("") == []
    assert parse_json_ads("[\n]\n") == []
    assert [ad["ProcId"] for ad in parse_json_ads(Q_TWO_ADS)] == [0, 1]
    with pytest.raises(BatchCommandError, match="unreadable JSON"):
        parse_json_ads("-- Schedd: host : <127.0.0.1:9618>")


@pytest.mark.parametrize(
    ("ad", "state", "native", "exit_code", "reason"),
    [
        ({"JobStatus": 1}, JobState.QUEUED, "IDLE", None, ""),
        ({"JobStatus": 2}, JobState.RUNNING, "RUNNING", None, ""),
        ({"JobStatus": 3, "RemoveReason": "via condor_rm (by user kris)"}, JobState.FAILED, "REMOVED", None, "via"),
        ({"JobStatus": 4, "ExitCode": 0, "ExitBySignal": False}, JobState.SUCCEEDED, "COMPLETED", 0, ""),
        ({"JobStatus": 4, "ExitCode": 3, "ExitBySignal": False}, JobState.FAILED, "COMPLETED", 3, ""),
        ({"JobStatus": 4, "ExitBySignal": True, "ExitSignal": 9}, JobState.FAILED, "COMPLETED", None, "signal 9"),
        ({"JobStatus": 5, "HoldReason": "over memory"}, JobState.FAILED, "HELD", None, "over memory"),
        ({"JobStatus": 6}, JobState.RUNNING, "TRANSFERRING_OUTPUT", None, ""),
        ({"JobStatus": 7}, JobState.RUNNING, "SUSPENDED", None, ""),
    ],
)
def test_every_job_status_is_mapped(
    ad: dict[str, Any], state: JobState, native: str, exit_code: int | None, reason: str
) -> None:
    status = status_from_ad(ad)
    assert (status.state, status.native_state, status.exit_code) == (state, native, exit_code)
    assert reason in status.reason


# --- the backend against scripted command output --------------------------------------------------


def test_query_asks_condor_q_then_condor_history_once_and_removes_held_jobs() -> None:
    runner = ScriptedRunner(
        {
            "condor_q": [(Q_TWO_ADS, "", 0)],
            "condor_history": [(HISTORY, "", 0)],
            "condor_rm": [("Job 6.1 marked for removal\n", "", 0)],
        }
    )
    statuses = backend(runner).query(["6.0", "6.1", "6.2", "6.3", "6.4"])
    assert [argv[0] for argv in runner.argvs] == ["condor_q", "condor_history", "condor_rm"]
    assert runner.argvs[0][-1] == "6"
    assert runner.argvs[1][-5:] == ["-limit", "3", "6.2", "6.3", "6.4"]
    assert runner.argvs[2] == ["condor_rm", "6.1"]
    assert statuses["6.0"].state is JobState.RUNNING
    assert statuses["6.1"].state is JobState.FAILED and "over memory limit" in statuses["6.1"].reason
    assert "removed from the queue" in statuses["6.1"].reason
    assert (statuses["6.2"].state, statuses["6.2"].exit_code) == (JobState.FAILED, 3)
    assert statuses["6.3"].state is JobState.SUCCEEDED
    assert "6.4" not in statuses


def test_held_jobs_are_released_up_to_the_setting_then_removed() -> None:
    held = '[\n{\n  "ClusterId": 6,\n  "HoldReason": "disk full",\n  "JobStatus": 5,\n  "ProcId": 0\n}\n]\n'
    runner = ScriptedRunner(
        {
            "condor_q": [(held, "", 0), (held, "", 0)],
            "condor_release": [("Job 6.0 released\n", "", 0)],
            "condor_rm": [("Job 6.0 marked for removal\n", "", 0)],
        }
    )
    set_setting("htcondor_release_held", 1)
    condor = backend(runner)
    first = condor.query(["6.0"])["6.0"]
    assert first.state is JobState.QUEUED and "released after hold 1 of 1: disk full" in first.reason
    second = condor.query(["6.0"])["6.0"]
    assert second.state is JobState.FAILED and "disk full" in second.reason
    assert [argv[0] for argv in runner.argvs] == ["condor_q", "condor_release", "condor_q", "condor_rm"]


def test_cancel_is_one_condor_rm_and_ignores_jobs_already_gone() -> None:
    runner = ScriptedRunner({"condor_rm": [("Job 6.0 marked for removal\n", "\nJob 6.1 not found\n", 1)]})
    backend(runner).cancel(["6.0", "6.1"])
    assert runner.argvs == [["condor_rm", "6.0", "6.1"]]


def test_cancel_raises_when_the_schedd_does_not_answer() -> None:
    down = "CEDAR:6001:Failed to connect to <127.0.0.1:9618>\nNo result found for job 6.0\n"
    runner = ScriptedRunner({"condor_rm": [("", down, 1)]})
    with pytest.raises(BatchCommandError, match="Failed to connect"):
        backend(runner).cancel(["6.0"])


def test_query_failure_is_a_retryable_error() -> None:
    runner = ScriptedRunner({"condor_q": [("", DAEMON_DOWN, 1)]})
    with pytest.raises(BatchCommandError) as caught:
        backend(runner).query(["6.0"])
    assert not isinstance(caught.value, PermanentBatchError)


def test_submit_errors_are_permanent_unless_the_schedd_is_unreachable(tmp_path: Path) -> None:
    set_setting("task_file_dir", str(tmp_path / "task_files"))
    specs = [spec(tmp_path, "a")]
    missing = "\nERROR: Can't access executable file /nothere.sh: No such file or directory\n"
    runner = ScriptedRunner(
        {
            "condor_submit": [
                ("", missing, 1),
                ("", "\nERROR: Failed to connect to local queue manager\nCEDAR:6001:Failed to connect\n", 1),
                ("6.0 - 6.0\n", "", 0),
                ("Submitting job(s).\n", "", 0),
            ]
        }
    )
    condor = backend(runner)
    with pytest.raises(PermanentBatchError, match="Can't access executable"):
        condor.submit(specs)
    with pytest.raises(BatchCommandError) as caught:
        condor.submit(specs)
    assert not isinstance(caught.value, PermanentBatchError)
    assert condor.submit(specs) == ["6.0"]
    with pytest.raises(PermanentBatchError, match="expected 1 job ids"):
        condor.submit(specs)
    assert all(argv[:2] == ["condor_submit", "-terse"] for argv in runner.argvs)


@each_batch_system_place
def test_reserved_htcondor_settings_in_settings_json_fail_once_at_start_naming_the_file(
    tmp_path: Path, on_class: bool
) -> None:
    """htcondor_settings naming 'output' (b2core writes it per job) in settings.json: one error, exit 2."""
    settings = {"batch_system": "htcondor", "htcondor_settings": {"request_memory": "2 GB", "output": "/tmp/all.out"}}
    assert_fails_once_at_start(tmp_path, settings, "htcondor_settings", "may not set 'output'", on_class=on_class)
