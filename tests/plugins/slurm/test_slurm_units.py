"""Slurm backend logic without a cluster: parsing recorded squeue/sacct output, state mapping,
settings validation, submit scripts and the command sequence, with a fake command runner.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from b2core.batch.backend import JobSpec, JobState
from b2core.batch.commands import CommandRunner
from b2core.errors import BatchCommandError, PermanentBatchError, SettingsError
from b2core.settings import get_setting, set_setting
from b2core.testing.settings_check import assert_fails_once_at_start, each_batch_system_place
from b2core_slurm import hooks
from b2core_slurm.backend import (
    SlurmBackend,
    compress_ids,
    directive_value,
    parse_sbatch_output,
    render_submit_script,
    sbatch_filename,
)
from b2core_slurm.settings import SlurmSettings
from b2core_slurm.states import STATE_TABLE, Row, expand_ids, parse_sacct, parse_squeue, to_status
from slurm_testkit import RECORDED


class FakeRunner(CommandRunner):
    """Answers Slurm commands from a script of (returncode, stdout, stderr) per command name."""

    def __init__(self, answers: dict[str, list[tuple[int, str, str]]]) -> None:
        super().__init__()
        self.answers = {name: list(replies) for name, replies in answers.items()}
        self.argvs: list[list[str]] = []

    def run(self, argv: Sequence[str], *, cwd=None, input=None, env=None, check=True):
        """Record the command and hand out the next scripted answer for it."""
        argv = [str(a) for a in argv]
        self.argvs.append(argv)
        self.calls[argv[0]] += 1
        replies = self.answers.get(argv[0]) or [(0, "", "")]
        code, out, err = replies.pop(0) if len(replies) > 1 else replies[0]
        if check and code != 0:
            raise BatchCommandError(argv, code, out, err)
        return subprocess.CompletedProcess(argv, code, out, err)


def recorded(name: str) -> str:
    """A recorded command output."""
    return (RECORDED / name).read_text()


# --- parsing and mapping ---------------------------------------------------------------------------


def test_squeue_recorded_output_maps_every_line() -> None:
    """A live array with finished, running, held and pending elements maps line by line."""
    statuses = {job_id: to_status(row) for job_id, row in parse_squeue(recorded("squeue_mixed.txt")).items()}
    assert statuses["395_1"].state is JobState.FAILED
    assert statuses["395_2"].state is JobState.SUCCEEDED
    assert statuses["395_3"].state is JobState.FAILED and statuses["395_3"].native_state == "CANCELLED"
    assert {statuses[f"395_{i}"].state for i in range(4, 8)} == {JobState.RUNNING}
    assert statuses["395_0"].state is JobState.QUEUED and "held" in statuses["395_0"].reason
    assert statuses["396"].reason == "JobHeldUser"
    assert statuses["397"].reason == "Resources" and statuses["404"].reason == "Priority"


def test_pending_array_ranges_are_expanded() -> None:
    """squeue/sacct print a pending array as 123_[4-5]; each element gets its own status."""
    rows = parse_squeue(recorded("squeue_ranges.txt"))
    assert {"10_4", "10_5", "10_0", "11"} <= set(rows)
    assert rows["10_5"].state == "PENDING"
    assert len([job_id for job_id in rows if job_id.startswith("8_")]) == 10001
    assert expand_ids("12_[1,3-7:2]") == ["12_1", "12_3", "12_5", "12_7"]
    assert expand_ids("12_[0-2%1]") == ["12_0", "12_1", "12_2"]
    assert expand_ids("12_[junk]") == []
    assert expand_ids("12") == ["12"]


def test_sacct_recorded_output() -> None:
    """sacct -P lines, "CANCELLED by 0", exit codes; job steps (123.batch) are skipped."""
    rows = parse_sacct(recorded("sacct_mixed.txt") + "17.batch|FAILED|3:0|\n\n")
    assert "17.batch" not in rows
    assert to_status(rows["395_1"]).exit_code == 3
    assert to_status(rows["395_0"]).state is JobState.QUEUED  # REQUEUED: it will run again
    final = {job_id: to_status(row) for job_id, row in parse_sacct(recorded("sacct_final.txt")).items()}
    assert final["395_2"].state is JobState.SUCCEEDED
    cancelled = final["395_5"]
    assert (cancelled.state, cancelled.native_state, cancelled.exit_code) == (JobState.FAILED, "CANCELLED", None)
    assert "cancelled by user id 0" in cancelled.reason


def test_every_final_state_line() -> None:
    """Each failure state keeps Slurm's name and explains itself; signals are spelt out."""
    rows = parse_sacct(recorded("sacct_states.txt"))
    assert {"8_0", "8_3"} <= set(rows)
    statuses = {to_status(row).native_state: to_status(row) for job_id, row in rows.items() if job_id != "8_0"}
    for native in ("TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "PREEMPTED", "DEADLINE", "REVOKED"):
        assert statuses[native].state is JobState.FAILED, native
        assert statuses[native].reason, native
    assert "time limit" in statuses["TIMEOUT"].reason
    assert "memory" in statuses["OUT_OF_MEMORY"].reason and "125" in statuses["OUT_OF_MEMORY"].reason
    assert statuses["FAILED"].exit_code == 3
    assert to_status(rows["7"]).reason.endswith("killed by signal 15 (SIGTERM)")


@pytest.mark.parametrize("native", sorted(STATE_TABLE))
def test_every_slurm_state_has_a_mapping(native: str) -> None:
    """Every state squeue or sacct can print maps without error, keeping its name."""
    status = to_status(Row("5", native, "0:0", "None"))
    assert status.native_state == native
    assert status.state is STATE_TABLE[native][0]


def test_state_mapping_choices() -> None:
    """The states that need thought: ending is still running, requeued is queued, held says how to go on."""
    assert to_status(Row("5", "COMPLETING")).state is JobState.RUNNING
    assert to_status(Row("5", "REQUEUED")).state is JobState.QUEUED
    assert to_status(Row("5", "PREEMPTED", "0:0")).state is JobState.FAILED
    held = to_status(Row("5", "REQUEUE_HOLD"))
    assert held.state is JobState.QUEUED and "scontrol release 5" in held.reason
    assert to_status(Row("5", "SUSPENDED")).state is JobState.RUNNING
    assert to_status(Row("5", "CANCELLED+", "0:15")).native_state == "CANCELLED"


def test_unknown_state_fails_clearly_instead_of_crashing() -> None:
    """A state this plugin has never heard of (newer Slurm) is a failure with the state named."""
    status = to_status(Row("5", "TELEPORTED", "0:0", "None"))
    assert status.state is JobState.FAILED
    assert status.native_state == "TELEPORTED"
    assert "unrecognised Slurm state 'TELEPORTED'" in status.reason
    assert to_status(Row("5", "", "")).state is JobState.FAILED


def test_completed_with_non_zero_exit_is_failed() -> None:
    """COMPLETED must also have exit code 0 and no signal to count as success."""
    assert to_status(Row("5", "COMPLETED", "0:0")).state is JobState.SUCCEEDED
    assert to_status(Row("5", "COMPLETED", "")).state is JobState.SUCCEEDED  # squeue gives no exit code
    bad = to_status(Row("5", "COMPLETED", "2:0"))
    assert (bad.state, bad.exit_code) == (JobState.FAILED, 2)
    signalled = to_status(Row("5", "COMPLETED", "0:9"))
    assert signalled.state is JobState.FAILED and "killed by signal 9 (SIGKILL)" in signalled.reason


# --- query: the command sequence -------------------------------------------------------------------


def test_query_asks_squeue_once_and_sacct_only_for_the_rest() -> None:
    """All active jobs in one squeue; sacct only for jobs squeue shows finished or not at all."""
    runner = FakeRunner(
        {
            "squeue": [(0, "100_0|RUNNING|None\n100_1|COMPLETED|None\n100_2|PENDING|Priority\n", "")],
            "sacct": [(0, "100_1|COMPLETED|0:0|None\n101|FAILED|3:0|None\n", "")],
        }
    )
    statuses = SlurmBackend(runner).query(["100_0", "100_1", "100_2", "101", "102"])
    assert runner.calls == {"squeue": 1, "sacct": 1}
    squeue_argv, sacct_argv = runner.argvs
    assert squeue_argv[squeue_argv.index("-j") + 1] == "100,101,102"
    assert "-r" in squeue_argv and "all" in squeue_argv
    assert sacct_argv[sacct_argv.index("-j") + 1] == "100,101,102"
    assert statuses["100_0"].state is JobState.RUNNING
    assert statuses["100_1"].state is JobState.SUCCEEDED and statuses["100_1"].exit_code == 0
    assert statuses["100_2"].reason == "Priority"
    assert statuses["101"].exit_code == 3
    assert "102" not in statuses  # unknown: the core fails it after 3 polls


def test_query_without_finished_jobs_needs_no_sacct() -> None:
    """While everything is queued or running, one squeue per poll is all."""
    runner = FakeRunner({"squeue": [(0, "7|RUNNING|None\n8_[0-3]|PENDING|Resources\n", "")]})
    statuses = SlurmBackend(runner).query(["7", "8_0", "8_3"])
    assert runner.calls == {"squeue": 1}
    assert statuses["8_3"].state is JobState.QUEUED


def test_query_when_squeue_knows_none_of_the_ids() -> None:
    """squeue exits 1 "Invalid job id specified" when every id is purged; sacct still answers."""
    runner = FakeRunner(
        {
            "squeue": [(1, "", "slurm_load_jobs error: Invalid job id specified\n")],
            "sacct": [(0, "17|FAILED|3:0|None\n", "")],
        }
    )
    assert SlurmBackend(runner).query(["17"])["17"].exit_code == 3


def test_query_other_squeue_failures_are_errors() -> None:
    """A controller that does not answer is a BatchCommandError, so the core retries."""
    runner = FakeRunner({"squeue": [(1, "", "slurm_load_jobs error: Socket timed out on send/recv operation")]})
    with pytest.raises(BatchCommandError) as caught:
        SlurmBackend(runner).query(["17"])
    assert not isinstance(caught.value, PermanentBatchError)


def test_query_prefers_squeue_while_sacct_lags() -> None:
    """squeue already says COMPLETED while slurmdbd still says RUNNING: the job is done."""
    runner = FakeRunner(
        {"squeue": [(0, "9|COMPLETED|None\n", "")], "sacct": [(0, "9|RUNNING|0:0|None\n", "")]},
    )
    assert SlurmBackend(runner).query(["9"])["9"].state is JobState.SUCCEEDED


def test_query_without_accounting() -> None:
    """Accounting disabled: said once, sacct is not asked again, purged jobs stay unknown."""
    runner = FakeRunner(
        {"squeue": [(0, "", "")], "sacct": [(1, "", "sacct: error: Slurm accounting storage is disabled\n")]}
    )
    backend = SlurmBackend(runner)
    assert backend.query(["5"]) == {}
    assert backend.query(["5"]) == {}
    assert runner.calls == {"squeue": 2, "sacct": 1}
    assert backend.accounting is False


def test_query_survives_a_sacct_hiccup() -> None:
    """A failing sacct (slurmdbd restarting) leaves squeue's answers intact."""
    runner = FakeRunner(
        {"squeue": [(0, "5|FAILED|NonZeroExitCode\n", "")], "sacct": [(1, "", "sacct: error: Connection refused")]}
    )
    statuses = SlurmBackend(runner).query(["5", "6"])
    assert statuses["5"].state is JobState.FAILED and "6" not in statuses


def test_array_element_cancelled_while_pending_is_reported() -> None:
    """Slurm forgets an element scancelled before it started; twice missing while its array is known."""
    runner = FakeRunner(
        {
            "squeue": [(0, "20_0|RUNNING|None\n20_5|RUNNING|None\n", "")],
            "sacct": [(0, "20_0|RUNNING|0:0|None\n20_5|RUNNING|0:0|None\n", "")],
        }
    )
    backend = SlurmBackend(runner)
    assert "20_4" not in backend.query(["20_0", "20_4", "20_5"])
    status = backend.query(["20_0", "20_4", "20_5"])["20_4"]
    assert (status.state, status.native_state) == (JobState.FAILED, "CANCELLED")
    assert "cancelled before it started" in status.reason


# --- submitting ------------------------------------------------------------------------------------


def make_spec(tmp_path: Path, index: int, settings: dict | None = None, family: str = "Fam") -> JobSpec:
    """A JobSpec with real folders under tmp_path."""
    folder = tmp_path / "task_files" / f"n={index}"
    logs = tmp_path / "logs" / f"n={index}"
    folder.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "executable_wrapper.sh"
    wrapper.write_text("#!/bin/bash\n")
    return JobSpec(
        task_id=f"{family}_{index}",
        family=family,
        wrapper=wrapper,
        stdout=logs / "stdout",
        stderr=logs / "stderr",
        log_dir=logs,
        task_file_dir=folder,
        job_name=None,
        settings=dict(settings or {}),
    )


def test_single_task_is_a_plain_sbatch(tmp_path: Path) -> None:
    """One task: sbatch --parsable of a script with the task's own log files; "123;cluster" parsed."""
    runner = FakeRunner({"sbatch": [(0, "123;cluster\n", "")]})
    spec = make_spec(tmp_path, 1, {"mem": "100MB", "export": "NONE", "exclusive": True, "requeue": False})
    assert SlurmBackend(runner).submit([spec]) == ["123"]
    [argv] = runner.argvs
    assert argv[:2] == ["sbatch", "--parsable"] and "--array" not in " ".join(argv)
    script = Path(argv[-1]).read_text()
    assert script.startswith("#!/bin/bash\n")
    assert f"#SBATCH --output={spec.stdout}\n" in script and f"#SBATCH --error={spec.stderr}\n" in script
    assert "#SBATCH --job-name=Fam\n" in script
    assert "#SBATCH --mem=100MB\n#SBATCH --export=NONE\n#SBATCH --exclusive\n" in script
    assert "requeue" not in script
    assert script.rstrip().endswith(f"exec {spec.wrapper}")


def test_many_tasks_are_one_array(tmp_path: Path) -> None:
    """Several tasks: one sbatch --array=0-(n-1); ids are <jobid>_<index>; elements log to their tasks."""
    set_setting("task_file_dir", str(tmp_path / "task_files"))
    runner = FakeRunner({"sbatch": [(0, "77\n", "")], "scontrol": [(0, "MaxArraySize            = 1001\n", "")]})
    specs = [make_spec(tmp_path, i, {"job-name": "mine"}) for i in range(3)]
    assert SlurmBackend(runner).submit(specs) == ["77_0", "77_1", "77_2"]
    assert runner.calls["sbatch"] == 1
    script = Path(runner.argvs[-1][-1]).read_text()
    assert "#SBATCH --array=0-2\n" in script and "#SBATCH --job-name=mine\n" in script
    assert "/slurm-%A_%a.out\n" in script
    array = (Path(runner.argvs[-1][-1]).parent / "array.sh").read_text()
    assert "SLURM_ARRAY_TASK_ID" in array and f">{specs[2].stdout}" in array


def test_arrays_respect_max_array_size_and_never_leave_half_submissions(tmp_path: Path) -> None:
    """MaxArraySize=2: 5 tasks go out as 3 arrays; if one sbatch fails the others are cancelled."""
    set_setting("task_file_dir", str(tmp_path / "task_files"))
    specs = [make_spec(tmp_path, i) for i in range(5)]
    runner = FakeRunner(
        {"sbatch": [(0, "1\n", ""), (0, "2\n", ""), (0, "3\n", "")], "scontrol": [(0, "MaxArraySize = 2\n", "")]}
    )
    assert SlurmBackend(runner).submit(specs) == ["1_0", "1_1", "2_0", "2_1", "3_0"]
    failing = FakeRunner(
        {
            "sbatch": [(0, "1\n", ""), (1, "", "sbatch: error: Socket timed out")],
            "scontrol": [(0, "MaxArraySize = 2\n", "")],
        }
    )
    with pytest.raises(BatchCommandError):
        SlurmBackend(failing).submit(specs)
    assert failing.argvs[-1] == ["scancel", "1_[0-1]"]


def test_sbatch_errors_are_sorted_into_permanent_and_retryable(tmp_path: Path) -> None:
    """Bad options or partitions are permanent; a busy controller is worth a retry."""
    spec = make_spec(tmp_path, 1)
    bad = FakeRunner({"sbatch": [(1, "", "sbatch: error: invalid partition specified: nope\n")]})
    with pytest.raises(PermanentBatchError, match="invalid partition"):
        SlurmBackend(bad).submit([spec])
    busy = FakeRunner({"sbatch": [(1, "", "sbatch: error: Slurm temporarily unable to accept job, sleeping")]})
    with pytest.raises(BatchCommandError) as caught:
        SlurmBackend(busy).submit([spec])
    assert not isinstance(caught.value, PermanentBatchError)


def test_sbatch_output_parsing() -> None:
    """Bare id, id;cluster; anything else is a permanent error (a retry might submit twice)."""
    assert parse_sbatch_output("4711\n", ["sbatch"]) == "4711"
    assert parse_sbatch_output("4711;other\n", ["sbatch"]) == "4711"
    with pytest.raises(PermanentBatchError, match="cannot read a job id"):
        parse_sbatch_output("Submitted batch job\n", ["sbatch"])


def test_submit_script_quoting() -> None:
    """Values sbatch would cut at '#', spaces or quotes are quoted; '%' in log paths is escaped."""
    assert directive_value("100MB") == "100MB"
    assert directive_value("a b") == '"a b"'
    assert directive_value('say "hi" # \\') == '"say \\"hi\\" # \\\\"'
    assert directive_value(2.5) == "2.5"
    assert sbatch_filename("/logs/ratio=50%/stdout") == "/logs/ratio=50%%/stdout"
    text = render_submit_script({"comment": "two words", "exclusive": True, "requeue": False}, Path("/x y/run"))
    assert '#SBATCH --comment="two words"' in text and "#SBATCH --exclusive" in text
    assert "requeue" not in text and "exec '/x y/run'" in text


def test_settings_variables_reach_the_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """B2CORE_* variables are exported by the submit script, so --export=NONE cannot lose them."""
    monkeypatch.setenv("B2CORE_RESULT_DIR", "my results")
    monkeypatch.setenv("B2LUIGI_SETTINGS_JSON", "/site/settings.json")
    monkeypatch.setenv("UNRELATED", "x")
    runner = FakeRunner({"sbatch": [(0, "5\n", "")]})
    SlurmBackend(runner).submit([make_spec(tmp_path, 1, {"export": "NONE"})])
    script = Path(runner.argvs[-1][-1]).read_text()
    assert "export B2CORE_RESULT_DIR='my results'\n" in script
    assert "export B2LUIGI_SETTINGS_JSON=/site/settings.json\n" in script
    assert "UNRELATED" not in script
    assert script.index("export B2CORE_RESULT_DIR") < script.index("exec ")


# --- settings --------------------------------------------------------------------------------------


class FakeTask:
    """Just enough of a task for settings lookups."""

    task_id = "FakeTask_1"

    def __init__(self, **attributes: object) -> None:
        self.__dict__.update(attributes)


def test_job_settings_merge_without_mutating_the_global_dict() -> None:
    """Global slurm_settings updated by the task's; job-name from job_name; the global dict untouched."""
    site = {"partition": "debug", "mem": "1G"}
    set_setting("slurm_settings", site)
    set_setting("job_name", "site-name")
    backend = SlurmBackend(FakeRunner({}))
    first = backend.job_settings(FakeTask(slurm_settings={"mem": "2G"}))
    assert first == {"partition": "debug", "mem": "2G", "job-name": "site-name"}
    own = backend.job_settings(FakeTask(slurm_settings={"job-name": "own"}, job_name="ignored"))
    assert own["job-name"] == "own"
    assert backend.job_settings(FakeTask(job_name="per-task"))["job-name"] == "per-task"
    assert site == {"partition": "debug", "mem": "1G"}
    assert get_setting("slurm_settings") == {"partition": "debug", "mem": "1G"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mem_per_cpu": "1G"}, "did you mean 'mem-per-cpu'"),
        ({"--mem": "1G"}, "did you mean 'mem'"),
        ({"Mem": "1G"}, "not an sbatch long option"),
        ({"array": "0-3"}, "cannot be set"),
        ({"output": "x.log"}, "log folder"),
        ({"comment": "one\ntwo"}, "line breaks"),
        ({"mem": ["1G"]}, "string, number or boolean"),
    ],
)
def test_invalid_slurm_settings_name_task_and_key(options: dict, message: str) -> None:
    """Wrong keys or values fail before submission, naming the task and the key."""
    with pytest.raises(SettingsError, match=message) as caught:
        SlurmBackend(FakeRunner({})).job_settings(FakeTask(slurm_settings=options))
    assert "FakeTask_1" in str(caught.value)


def test_slurm_settings_is_a_typed_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """B2CORE_SLURM_SETTINGS carries JSON; a value of the wrong type names the setting."""
    from b2core.settings_models import register_settings_model

    register_settings_model(SlurmSettings)
    monkeypatch.setenv("B2CORE_SLURM_SETTINGS", '{"mem": "1G", "ntasks": 1, "exclusive": true}')
    assert get_setting("slurm_settings") == {"mem": "1G", "ntasks": 1, "exclusive": True}
    with pytest.raises(SettingsError, match="slurm_settings"):
        set_setting("slurm_settings", {"mem": ["1G"]})


# --- cancelling ------------------------------------------------------------------------------------


def test_cancel_is_one_scancel_with_folded_array_ids() -> None:
    """All jobs in one scancel; consecutive elements folded into ranges."""
    runner = FakeRunner({"scancel": [(0, "", "")]})
    SlurmBackend(runner).cancel(["5", "9_0", "9_1", "9_2", "9_7", "10_3"])
    assert runner.argvs == [["scancel", "5", "9_[0-2,7]", "10_3"]]
    assert compress_ids(["3_4", "3_5"]) == ["3_[4-5]"]


def test_cancel_ignores_jobs_that_already_ended() -> None:
    """scancel complaining about finished or purged jobs is fine; other errors are not."""
    ended = "scancel: error: Kill job error on job id 5: Job/step already completing or completed\n"
    purged = "scancel: error: Kill job error on job id 6: Invalid job id specified\n"
    SlurmBackend(FakeRunner({"scancel": [(1, "", ended + purged)]})).cancel(["5", "6"])
    denied = "scancel: error: Kill job error on job id 7: Access/permission denied\n"
    with pytest.raises(BatchCommandError, match="permission denied"):
        SlurmBackend(FakeRunner({"scancel": [(1, "", denied)]})).cancel(["7"])


# --- hooks and entry points ------------------------------------------------------------------------


def test_detection_without_slurm(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No sbatch on PATH: not available, and the detail says why."""
    monkeypatch.setenv("PATH", str(tmp_path))
    detection = hooks.b2core_detect_backend()
    assert (detection.name, detection.available, detection.priority) == ("slurm", False, 10)
    assert "sbatch" in detection.detail


def test_detection_with_a_hanging_squeue(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A squeue that does not answer in time makes slurm unavailable instead of hanging auto."""
    for name, body in (("sbatch", "exit 0"), ("squeue", "sleep 5")):
        command = tmp_path / name
        command.write_text(f"#!/bin/sh\n{body}\n")
        command.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(hooks, "VERSION_TIMEOUT", 0.2)
    detection = hooks.b2core_detect_backend()
    assert not detection.available and "squeue --version" in detection.detail


def test_plugin_is_registered() -> None:
    """Both entry points are installed: the backend by name, the hook module with its settings model."""
    from b2core.plugins import backend_class, installed_backends, plugin_manager

    assert installed_backends()["slurm"].value == "b2core_slurm.backend:SlurmBackend"
    assert backend_class("slurm") is SlurmBackend
    assert [SlurmSettings] in plugin_manager().hook.b2core_settings_models()


@each_batch_system_place
def test_managed_slurm_settings_in_settings_json_fail_once_at_start_naming_the_file(
    tmp_path: Path, on_class: bool
) -> None:
    """slurm_settings with 'array' in settings.json: one error naming the file, exit 2, before any task is prepared."""
    settings = {"batch_system": "slurm", "slurm_settings": {"array": "0-3"}}
    assert_fails_once_at_start(tmp_path, settings, "slurm_settings", "'array' cannot be set", on_class=on_class)
