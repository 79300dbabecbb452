"""Broken job stores fail at start naming the file; `b2core status` works for users who may only read."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("damage", ["garbage", "half-written"])
def test_a_damaged_job_store_fails_the_run_at_start_naming_it(local_flow, damage: str) -> None:
    """Garbage or a truncated file instead of jobs.sqlite: exit 2, the path and what to do, nothing submitted."""
    env = local_flow.env(COUNT="1")
    store = local_flow.store()
    if damage == "garbage":
        store.parent.mkdir(parents=True)
        store.write_text("this is no database\n" * 100)
    else:
        assert local_flow.flow.run(env=env).returncode == 0
        (local_flow.flow.path / "sum.txt").unlink()
        data = store.read_bytes()
        for path in store.parent.glob("jobs.sqlite-*"):
            path.unlink()
        store.write_bytes(data[: len(data) // 2])
    run = local_flow.flow.run(env=env)
    assert run.returncode == 2, run
    assert f"The job store {store} is damaged" in run.stderr and "Move it away" in run.stderr, run
    assert "Traceback" not in run.stderr, run
    assert local_flow.total() is None


def test_a_log_dir_the_user_may_not_write_fails_at_start(local_flow, unprivileged) -> None:
    """log_dir not writable for this user: exit 2 naming the folder, before anything runs."""
    log_dir = unprivileged.folder / "logs"
    log_dir.mkdir(mode=0o755)
    log_dir.chmod(0o555)
    script = local_flow.flow.path / "steering.py"
    shutil.copy(script, unprivileged.folder / "steering.py")
    env = {"COUNT": "1", "RUNS": str(unprivileged.folder / "runs.log")}  # logs/ next to the script: log_dir
    run = local_flow.flow.command(unprivileged.argv(sys.executable, str(unprivileged.folder / "steering.py")), env=env)
    assert run.returncode == 2, run
    assert str(log_dir / ".b2core") in run.stderr and "log_dir must be a writable folder" in run.stderr, run
    assert "Traceback" not in run.stderr, run


def test_status_works_for_a_user_who_may_only_read_the_job_store(local_flow, unprivileged) -> None:
    """The job store of a finished run, readable but not writable: `b2core status` lists every record."""
    assert local_flow.flow.run(env=local_flow.env(COUNT="2")).returncode == 0
    logs = unprivileged.folder / "logs"
    shutil.copytree(local_flow.flow.path / "logs", logs)
    for path in [logs, *logs.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    status = unprivileged.argv(sys.executable, "-m", "b2core.cli.main", "status", "--log-dir", str(logs))
    run = local_flow.flow.command(status)
    assert run.returncode == 0, run
    assert "succeeded: 3; total: 3" in run.stdout, run
    assert sorted(Path(p).name for p in logs.rglob("jobs.sqlite*")) == ["jobs.sqlite"]


def test_status_shows_the_newest_attempt_of_each_task_by_family(tmp_path: Path) -> None:
    """Two attempts of one task: only the second is listed, with its exit code; rows ordered by family, then id."""
    import subprocess

    from b2core.batch.jobstore import JobRecord, JobStore, store_path

    store = JobStore(store_path(str(tmp_path)))
    store.upsert_many(
        [
            JobRecord("Zeta_1", 1, "Alpha", "local", "11", "failed", "EXITED", exit_code=3),
            JobRecord("Zeta_1", 2, "Alpha", "local", "12", "succeeded", "EXITED", exit_code=0),
            JobRecord("Beta_1", 1, "Beta", "local", None, "submitting"),
            JobRecord("Aard_1", 1, "Beta", "local", "13", "running", "RUNNING"),
        ]
    )
    store.close()
    command = [sys.executable, "-m", "b2core.cli.main", "status", "--log-dir", str(tmp_path)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert [line.split()[:5] for line in lines[2:5]] == [
        ["Zeta_1", "succeeded", "local", "12", "2"],
        ["Aard_1", "running", "local", "13", "1"],
        ["Beta_1", "submitting", "local", "-", "1"],
    ], run.stdout
    assert lines[2].endswith("EXITED (exit code 0)"), run.stdout
    assert lines[-1] == "running: 1, submitting: 1, succeeded: 1; total: 3", run.stdout
