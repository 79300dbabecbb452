"""The SGE backend's command lines and parsing, against outputs recorded on the real cell (recorded/README.md)."""

from __future__ import annotations

from pathlib import Path

import b2core
import pytest
from b2core.batch.backend import JobSpec, JobState
from b2core.batch.commands import CommandRunner
from b2core.errors import B2CoreError, PermanentBatchError
from b2core.plugins import backend_class
from b2core.testing import ScriptedRunner
from b2core.testing.settings_check import assert_fails_once_at_start, each_batch_system_place
from b2core_sge.backend import SGEBackend, expand_tasks, parse_qacct, parse_qstat, parse_scripts, qsub_argv
from sge_testkit import RECORDED


def recorded(name: str) -> str:
    return (RECORDED / name).read_text()


def backend(runner: CommandRunner | None = None) -> SGEBackend:
    """The backend class as the engine loads it (through its entry point, which registers sge_settings)."""
    return backend_class("sge")(runner)


def specs(tmp_path: Path, count: int, settings: dict | None = None) -> list[JobSpec]:
    return [
        JobSpec(
            task_id=f"Task_{i}",
            family="Task",
            wrapper=tmp_path / f"t{i}" / "executable_wrapper.sh",
            stdout=tmp_path / f"t{i}" / "stdout",
            stderr=tmp_path / f"t{i}" / "stderr",
            log_dir=tmp_path / f"t{i}",
            task_file_dir=tmp_path / f"t{i}",
            job_name="numbers",
            settings=settings or {"job_name": "numbers"},
        )
        for i in range(count)
    ]


def test_qstat_running_and_held_tasks_pending_ranges_expanded() -> None:
    statuses = parse_qstat(recorded("qstat_mixed.xml"), ["qstat"])
    assert {job_id for job_id, s in statuses.items() if s.state is JobState.RUNNING} == {"2.1", "2.4", "2.5", "2.6"}
    assert statuses["3.1"].state is JobState.QUEUED and statuses["3.2"].native_state == "hqw"
    assert parse_qstat(recorded("qstat_empty.xml"), ["qstat"]) == {}
    assert expand_tasks("5-11:3,2") == [5, 8, 11, 2]


def test_error_state_fails_and_the_task_is_deleted(tmp_path: Path) -> None:
    runner = ScriptedRunner({"qstat": [(recorded("qstat_error.xml"), "", 0)], "qdel": [("deleted", "", 0)]})
    statuses = backend(runner).query(["5.1", "5.2"])
    assert {s.state for s in statuses.values()} == {JobState.FAILED} and statuses["5.1"].native_state == "Eqw"
    assert "qstat -j 5" in statuses["5.1"].reason
    assert runner.argvs[-1] == ["qdel", "5.1-2"]


def test_qacct_exit_codes_and_failure_reasons() -> None:
    finished = parse_qacct("2", recorded("qacct_array.txt"))
    assert (finished["2.3"].state, finished["2.3"].exit_code) == (JobState.SUCCEEDED, 0)
    assert (finished["2.2"].state, finished["2.2"].exit_code, finished["2.2"].reason) == (JobState.FAILED, 3, "")
    assert finished["2.1"].exit_code == 137 and finished["2.1"].reason == "assumedly after job"
    [limit] = parse_qacct("4", recorded("qacct_h_rt.txt")).values()
    assert limit.state is JobState.FAILED and "h_rt" in limit.reason


def test_query_is_one_qstat_plus_one_qacct_per_array_with_finished_tasks() -> None:
    runner = ScriptedRunner(
        {
            "qstat": [(recorded("qstat_mixed.xml"), "", 0)],
            "qacct": [(recorded("qacct_array.txt"), "", 0), ("", recorded("qacct_unknown.txt"), 1)],
        }
    )
    statuses = backend(runner).query(["2.1", "2.2", "2.3", "3.1", "99.1"])
    assert statuses["2.1"].state is JobState.RUNNING, "qstat's answer wins over an older accounting record"
    assert statuses["2.2"].exit_code == 3 and statuses["2.3"].state is JobState.SUCCEEDED
    assert "99.1" not in statuses, "not in the accounting yet: left out, the core counts missing polls"
    assert runner.calls == {"qstat": 1, "qacct": 2}
    assert runner.argvs[1:] == [["qacct", "-j", "2"], ["qacct", "-j", "99"]]


def test_unreadable_accounting_lets_the_outputs_decide(caplog: pytest.LogCaptureFixture) -> None:
    unreadable = ("", recorded("qacct_unreadable.txt"), 1)
    runner = ScriptedRunner({"qstat": [(recorded("qstat_empty.xml"), "", 0)] * 2, "qacct": [unreadable] * 2})
    sge = backend(runner)
    [status] = sge.query(["2.3"]).values()
    assert status.state is JobState.SUCCEEDED and "outputs decide" in status.reason
    assert "No such file or directory" in status.reason
    sge.query(["2.3"])
    assert len([r for r in caplog.records if "qacct cannot read" in r.message]) == 1, "warned once"


def test_submit_is_one_qsub_array(tmp_path: Path) -> None:
    b2core.set_setting("task_file_dir", str(tmp_path / "task_files"))
    runner = ScriptedRunner({"qsub": [(recorded("qsub_terse_array.txt"), "", 0)]})
    assert backend(runner).submit(specs(tmp_path, 6)) == [f"2.{i}" for i in range(1, 7)]
    [argv] = runner.argvs
    assert argv[argv.index("-t") + 1] == "1-6" and argv[argv.index("-N") + 1] == "numbers"
    script = Path(argv[-1]).read_text()
    assert (
        '"${SGE_TASK_ID}"' in script and f"6) exec {tmp_path}/t5/executable_wrapper.sh >{tmp_path}/t5/stdout" in script
    )


def test_unknown_queue_is_a_permanent_error_naming_the_array_script(tmp_path: Path) -> None:
    b2core.set_setting("task_file_dir", str(tmp_path / "task_files"))
    runner = ScriptedRunner({"qsub": [("", recorded("qsub_unknown_queue.txt"), 1)]})
    with pytest.raises(PermanentBatchError, match=r'(?s)unknown queue "nope".*array script'):
        backend(runner).submit(specs(tmp_path, 2))


def test_qsub_options_from_sge_settings(tmp_path: Path) -> None:
    settings = {
        "job_name": "9 lives/x",
        "queue": "long.q",
        "parallel_environment": "smp 4",
        "h_rt": "1:00:00",
        "h_vmem": "2G",
        "resources": {"scratch": "10G"},
        "project": "belle",
        "max_running_tasks": 50,
    }
    argv = qsub_argv(settings, 3, tmp_path, tmp_path / "array.sh")
    line = " ".join(argv)
    assert "-N b9_lives_x" in line and "-t 1-3 " in line and "-tc 50" in line and "-q long.q" in line
    assert "-pe smp 4" in line and "-l h_rt=1:00:00,h_vmem=2G,scratch=10G" in line and "-P belle" in line
    assert "-tc" not in qsub_argv({"job_name": "a"}, 3, tmp_path, tmp_path / "array.sh")


def test_sge_settings_merge_per_task_and_reject_unknown_keys() -> None:
    class Heavy(b2core.Task):
        sge_settings = {"h_vmem": "8G"}

    class Typo(b2core.Task):
        sge_settings = {"h_mem": "8G"}

    b2core.set_setting("sge_settings", {"queue": "long.q", "h_vmem": "2G"})
    assert backend().job_settings(Heavy()) == {"queue": "long.q", "h_vmem": "8G", "job_name": "Heavy"}
    with pytest.raises(B2CoreError, match="sge_settings"):
        backend().job_settings(Typo())


def test_cancel_is_one_qdel_of_ranges_and_ended_tasks_are_fine() -> None:
    runner = ScriptedRunner({"qdel": [(recorded("qdel_mixed.txt"), "", 1), (recorded("qdel_unknown.txt"), "", 1)]})
    backend(runner).cancel(["2.1", "2.4", "2.5", "2.6", "3.1", "3.2", "2.3"])
    assert runner.argvs == [["qdel", "2.1", "2.3-6", "3.1-2"]]
    backend(runner).cancel(["99.1"])


def test_find_reads_the_submitted_scripts_of_unfinished_tasks() -> None:
    runner = ScriptedRunner({"qstat": [(recorded("qstat_mixed.xml"), "", 0), (recorded("qstat_j_2_3.xml"), "", 0)]})
    assert backend(runner).find([("Task_0", 1)]) == {}, "arr.sh of the recording is no b2core array script"
    assert runner.argvs[-1] == ["qstat", "-xml", "-j", "2,3"]
    assert parse_scripts(recorded("qstat_j_2_3.xml")) == {"2": "/tmp/sgerec/arr.sh", "3": "/tmp/sgerec/arr.sh"}


@each_batch_system_place
def test_bad_sge_settings_in_settings_json_fail_once_at_start_naming_the_file(tmp_path: Path, on_class: bool) -> None:
    """A parallel environment without slot count in settings.json: one error naming sge_settings and the file."""
    settings = {"batch_system": "sge", "sge_settings": {"queue": "all.q", "parallel_environment": "smp"}}
    assert_fails_once_at_start(
        tmp_path, settings, "sge_settings", "must be a parallel environment and a slot count", on_class=on_class
    )
