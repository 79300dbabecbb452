"""Unit tests of the LSF backend: settings, the bsub line, and parsing of bsub/bjobs/bkill output.

The outputs below are the formats IBM documents for LSF 10.1: `Job <id> is submitted to [default ]queue <q>.`,
`bjobs -o ... -json` objects with COMMAND/JOBS/RECORDS (an ERROR record per unknown id), and the
`Job <id>: Job has already finished` style complaints of bkill.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import b2core
import pytest
from b2core.batch.backend import JobSpec, JobState
from b2core.batch.commands import CommandRunner
from b2core.errors import BatchCommandError, PermanentBatchError, SettingsError
from b2core.plugins import backend_class
from b2core.settings import set_setting
from b2core.testing import ScriptedRunner
from b2core.testing.settings_check import assert_fails_once_at_start, each_batch_system_place
from b2core_lsf.backend import (
    LSFBackend,
    bsub_argv,
    compress_ids,
    parse_bjobs,
    parse_bjobs_commands,
    parse_bsub,
    status_from_record,
)

BJOBS_ARRAY = """{
  "COMMAND":"bjobs",
  "JOBS":4,
  "RECORDS":[
    {
      "JOBID":"4711",
      "JOBINDEX":"1",
      "STAT":"DONE",
      "EXIT_CODE":"",
      "EXIT_REASON":""
    },
    {
      "JOBID":"4711",
      "JOBINDEX":"2",
      "STAT":"EXIT",
      "EXIT_CODE":"3",
      "EXIT_REASON":""
    },
    {
      "JOBID":"4711",
      "JOBINDEX":"3",
      "STAT":"RUN",
      "EXIT_CODE":"",
      "EXIT_REASON":""
    },
    {
      "ERROR":"Job <4712> is not found"
    }
  ]
}
"""


class Number(b2core.Task):
    number = b2core.IntParameter()


def backend(runner: CommandRunner | None = None) -> LSFBackend:
    """The backend class as the engine loads it (which registers its settings model)."""
    return backend_class("lsf")(runner or CommandRunner())


def spec(folder: Path, name: str, settings: dict[str, Any]) -> JobSpec:
    logs = folder / "logs" / name
    logs.mkdir(parents=True, exist_ok=True)
    return JobSpec(
        task_id=name,
        family="Number",
        wrapper=folder / "task_files" / name / "executable_wrapper.sh",
        stdout=logs / "stdout",
        stderr=logs / "stderr",
        log_dir=logs,
        task_file_dir=folder / "task_files" / name,
        job_name=None,
        settings=settings,
    )


# --- settings and the bsub line -------------------------------------------------------------------


def test_defaults_short_queue_no_slots_family_as_name() -> None:
    settings = backend().job_settings(Number(number=1))
    assert settings == {"queue": "s", "job_slots": None, "job_name": "Number"}
    argv = bsub_argv(settings, 3, "/sub", "/sub/array.sh")
    assert "-n" not in argv and "False" not in argv
    assert argv[:5] == ["bsub", "-env", "all", "-q", "s"]
    assert argv[argv.index("-J") + 1] == "Number[1-3]"
    assert argv[argv.index("-oo") + 1] == "/sub/lsf-%J_%I.out" and argv[argv.index("-eo") + 1] == "/sub/lsf-%J_%I.err"
    assert argv[-1] == "/sub/array.sh"


def test_queue_slots_and_job_name_per_task() -> None:
    class Long(Number):
        queue = "l"
        job_slots = 4
        job_name = "my long task"

    settings = backend().job_settings(Long(number=1))
    argv = bsub_argv(settings, 1, "/sub", "/my dir/array.sh")
    assert argv[argv.index("-q") + 1] == "l" and argv[argv.index("-n") + 1] == "4"
    assert argv[argv.index("-J") + 1] == "my_long_task[1-1]"
    assert argv[-1] == "'/my dir/array.sh'"


def test_array_name_keeps_to_the_characters_and_length_lsf_allows() -> None:
    """LSF documents a-z, A-Z, 0-9, '.', '-', '_' for array names and at most 255 characters for -J."""
    settings = {"queue": "s", "job_slots": None, "job_name": "tau/mu:ratio=2 (v1)"}
    assert bsub_argv(settings, 3, "/f", "/f/a.sh")[6] == "tau_mu_ratio_2_v1_[1-3]"
    spec = bsub_argv({**settings, "job_name": "x" * 300}, 1000, "/f", "/f/a.sh")[6]
    assert len(spec) == 255 and spec.endswith("x[1-1000]")


@pytest.mark.parametrize("unset", [False, "", 0, None])
def test_job_slots_that_mean_unset_are_omitted(unset: Any) -> None:
    """b2luigi sent `-n False` for an unset job_slots (bug #1); here it is left out."""

    class Task(Number):
        job_slots = unset

    settings = backend().job_settings(Task(number=1))
    assert settings["job_slots"] is None
    assert "-n" not in bsub_argv(settings, 1, "/s", "/s/a.sh")


def test_settings_are_typed() -> None:
    backend()
    with pytest.raises(SettingsError, match="queue"):
        set_setting("queue", ["s"])


# --- parsing ----------------------------------------------------------------------------------------


def test_parse_bsub_reads_the_job_id() -> None:
    assert parse_bsub("Job <72065926> is submitted to default queue <s>.\n") == "72065926"
    assert parse_bsub("Job <235784> is submitted to queue <short>.\n") == "235784"
    assert parse_bsub("Warning: project default.\nJob <9> is submitted to queue <s>.\n") == "9"
    assert parse_bsub("") is None


def test_parse_bjobs_reads_array_elements_both_ways() -> None:
    statuses = parse_bjobs(BJOBS_ARRAY)
    assert statuses is not None
    assert set(statuses) == {"4711[1]", "4711[2]", "4711[3]"}
    assert statuses["4711[1]"].state is JobState.SUCCEEDED and statuses["4711[1]"].exit_code == 0
    assert (statuses["4711[2]"].state, statuses["4711[2]"].exit_code) == (JobState.FAILED, 3)
    assert statuses["4711[3]"].state is JobState.RUNNING
    enhanced = '{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"4711[2]","STAT":"PEND"}]}'
    assert parse_bjobs(enhanced)["4711[2]"].state is JobState.QUEUED  # type: ignore[index]
    plain = '{"COMMAND":"bjobs","JOBS":1,"RECORDS":[{"JOBID":"12","JOBINDEX":"0","STAT":"RUN"}]}'
    assert set(parse_bjobs(plain) or {}) == {"12"}
    assert parse_bjobs("") is None and parse_bjobs("Job <1> is not found") is None


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("PEND", JobState.QUEUED),
        ("PSUSP", JobState.QUEUED),
        ("WAIT", JobState.QUEUED),
        ("PROV", JobState.QUEUED),
        ("RUN", JobState.RUNNING),
        ("USUSP", JobState.RUNNING),
        ("SSUSP", JobState.RUNNING),
        ("DONE", JobState.SUCCEEDED),
        ("EXIT", JobState.FAILED),
        ("UNKWN", JobState.FAILED),
        ("ZOMBI", JobState.FAILED),
    ],
)
def test_every_lsf_state_is_mapped(stat: str, state: JobState) -> None:
    status = status_from_record({"STAT": stat, "EXIT_CODE": "", "EXIT_REASON": ""})
    assert (status.state, status.native_state) == (state, stat)
    if stat in ("UNKWN", "ZOMBI"):
        assert stat in status.reason


def test_exit_reason_is_kept() -> None:
    status = status_from_record(
        {
            "STAT": "EXIT",
            "EXIT_CODE": "140",
            "EXIT_REASON": "TERM_RUNLIMIT: job killed after reaching LSF run time limit",
        }
    )
    assert status.exit_code == 140 and status.reason.startswith("TERM_RUNLIMIT")


def test_compress_ids_groups_array_elements() -> None:
    ids = ["7[1]", "7[2]", "7[3]", "7[5]", "8[2]", "9", "7[2]"]
    assert compress_ids(ids) == ["9", "7[1-3,5]", "8[2]"]
    assert compress_ids([]) == []


# --- the backend against scripted command output --------------------------------------------------


def test_query_is_one_bjobs_for_every_array() -> None:
    runner = ScriptedRunner({"bjobs": [(BJOBS_ARRAY, "", 0)]})
    statuses = backend(runner).query(["4711[1]", "4711[2]", "4711[3]", "4712[1]"])
    assert runner.argvs == [["bjobs", "-a", "-json", "-o", "jobid jobindex stat exit_code exit_reason", "4711", "4712"]]
    assert set(statuses) == {"4711[1]", "4711[2]", "4711[3]"}


def test_query_of_jobs_lsf_forgot_is_empty_not_an_error() -> None:
    runner = ScriptedRunner({"bjobs": [("", "Job <4711> is not found\n", 255)]})
    assert backend(runner).query(["4711[1]"]) == {}


def test_query_when_mbatchd_is_down_is_a_retryable_error() -> None:
    down = "batch system daemon not responding ... still trying\nConnection refused by server\n"
    runner = ScriptedRunner({"bjobs": [("", down, 255)]})
    with pytest.raises(BatchCommandError) as caught:
        backend(runner).query(["4711[1]"])
    assert not isinstance(caught.value, PermanentBatchError)


def test_cancel_is_one_bkill_tolerating_finished_jobs() -> None:
    runner = ScriptedRunner(
        {"bkill": [("Job <7[1-2]> is being terminated\n", "Job <9>: Job has already finished\n", 255)]}
    )
    backend(runner).cancel(["7[1]", "7[2]", "9"])
    assert runner.argvs == [["bkill", "9", "7[1-2]"]]
    backend(ScriptedRunner({})).cancel([])  # never a bare bkill


def test_submit_writes_one_array_and_parses_its_id(tmp_path: Path) -> None:
    set_setting("task_file_dir", str(tmp_path / "task_files"))
    settings = {"queue": "s", "job_slots": None, "job_name": "Number"}
    specs = [spec(tmp_path, f"t{i}", settings) for i in range(3)]
    runner = ScriptedRunner({"bsub": [("Job <4711> is submitted to queue <s>.\n", "", 0)]})
    assert backend(runner).submit(specs) == ["4711[1]", "4711[2]", "4711[3]"]
    (argv,) = runner.argvs
    script = Path(argv[-1])
    text = script.read_text()
    assert '"${LSB_JOBINDEX}"' in text and f"1) exec {specs[0].wrapper}" in text and "3) exec" in text


def test_submit_errors_carry_bsubs_text(tmp_path: Path) -> None:
    set_setting("task_file_dir", str(tmp_path / "task_files"))
    specs = [spec(tmp_path, "t", {"queue": "nope", "job_slots": None, "job_name": "x"})]
    down = "batch system daemon not responding ... still trying\nConnection refused by server. Job not submitted.\n"
    runner = ScriptedRunner(
        {"bsub": [("", "nope: No such queue. Job not submitted.\n", 255), ("", down, 255), ("garbage\n", "", 0)]}
    )
    lsf = backend(runner)
    with pytest.raises(PermanentBatchError, match="No such queue"):
        lsf.submit(specs)
    with pytest.raises(BatchCommandError) as caught:
        lsf.submit(specs)
    assert not isinstance(caught.value, PermanentBatchError)
    with pytest.raises(PermanentBatchError, match="garbage"):
        lsf.submit(specs)


def test_parse_bjobs_commands_spells_elements_as_query_does_and_skips_finished() -> None:
    """find's bjobs records: `123[2]` whether or not LSB_BJOBS_DISPLAY_ENH shows it, quoted scripts unquoted."""
    records = [
        {"JOBID": "123", "JOBINDEX": "2", "STAT": "PEND", "COMMAND": "'/a b/array.sh'"},
        {"JOBID": "124[1]", "JOBINDEX": "1", "STAT": "RUN", "COMMAND": "/c/array.sh"},
        {"JOBID": "125", "JOBINDEX": "0", "STAT": "RUN", "COMMAND": "/d/executable_wrapper.sh"},
        {"JOBID": "126", "JOBINDEX": "1", "STAT": "DONE", "COMMAND": "/e/array.sh"},
        {"ERROR": "Job <127> is not found"},
    ]
    assert parse_bjobs_commands(json.dumps({"COMMAND": "bjobs", "JOBS": 5, "RECORDS": records})) == [
        ("123[2]", 2, "/a b/array.sh"),
        ("124[1]", 1, "/c/array.sh"),
        ("125", None, "/d/executable_wrapper.sh"),
    ]
    assert parse_bjobs_commands("No unfinished job found\n") is None


@each_batch_system_place
def test_bad_job_slots_in_settings_json_fail_once_at_start_naming_the_file(tmp_path: Path, on_class: bool) -> None:
    """job_slots that bsub -n cannot take, in settings.json: one error naming the setting and the file, exit 2."""
    settings = {"batch_system": "lsf", "job_slots": "four"}
    assert_fails_once_at_start(tmp_path, settings, "job_slots", "is no slot count for bsub -n", on_class=on_class)
