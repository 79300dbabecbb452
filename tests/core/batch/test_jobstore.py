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
