"""One steering process per workflow: a second one stops at once naming the holder; a dead holder's lock is free."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

STEERING = """
import os
import time
import b2core as b2luigi


class Slow(b2luigi.Task):
    number = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("out.txt")

    def run(self):
        with open(os.environ["RUNS"], "a") as runs:
            runs.write(f"{self.number}\\n")
        while os.environ.get("RELEASE") and not os.path.exists(os.environ["RELEASE"]):
            time.sleep(0.05)  # held until the test has started its second run
        with open(self.get_output_file_name("out.txt"), "w") as f:
            f.write(str(self.number))


class All(b2luigi.WrapperTask):
    def requires(self):
        for number in range(3):
            yield Slow(number=number)


if __name__ == "__main__":
    b2luigi.process(All(), workers=3)
"""


def lock_records(workflow) -> list[Path]:
    return list((workflow.path / "logs" / ".b2core" / "steering").glob("*.json"))


@pytest.mark.parametrize("backend", ["", "local"])
def test_a_second_steering_process_stops_at_once_naming_the_first(workflow, wait, backend: str) -> None:
    """Two runs of one workflow at once: the second exits 2 naming pid, host and start of the first; none runs twice."""
    workflow.write(STEERING)
    runs = workflow.path / "runs.log"
    release = workflow.path / "release"
    env = {"RUNS": str(runs), "RELEASE": str(release)}
    flags = ("--batch",) if backend else ()
    if backend:
        env["B2CORE_BATCH_SYSTEM"] = backend
    first = workflow.start(*flags, env=env)
    wait(lambda: runs.exists() and runs.read_text().count("\n") == 3, what="the first run's tasks to start")
    second = workflow.run(*flags, env=env)
    assert second.returncode == 2, second
    assert f"pid {first.pid} on host {socket.gethostname()} since " in second.stderr, second
    assert "Traceback" not in second.stderr, second
    release.touch()
    assert first.wait(timeout=120) == 0, workflow.log()
    assert Counter(runs.read_text().split()) == {"0": 1, "1": 1, "2": 1}
    assert lock_records(workflow) == []


def test_the_lock_of_a_killed_steering_process_is_taken_over_with_a_warning(workflow, wait) -> None:
    """SIGKILL leaves the holder record behind; the next run warns, names the dead holder and runs."""
    workflow.write(STEERING)
    runs = workflow.path / "runs.log"
    env = {"RUNS": str(runs), "RELEASE": str(workflow.path / "never")}
    first = workflow.start(env=env)
    wait(lambda: lock_records(workflow), what="the first run's lock record")
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    run = workflow.run(env={"RUNS": str(runs)})
    assert run.returncode == 0, run
    assert f"Taking over the workflow lock in {workflow.path / 'logs' / '.b2core'}" in run.output, run
    assert f"pid {first.pid} on host {socket.gethostname()}" in run.output, run
    assert lock_records(workflow) == []


HOLD_SHARED = """
import sys
from b2core.workflow_lock import workflow_lock

with workflow_lock(sys.argv[1], shared=True):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_shared_holders_run_together_but_keep_an_exclusive_run_out(tmp_path: Path) -> None:
    """Steering processes of one central scheduler share the lock; a run without one is refused, naming them."""
    from b2core.errors import WorkflowLockedError
    from b2core.workflow_lock import holders, workflow_lock

    log_dir = tmp_path / "logs"
    other = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLD_SHARED), str(log_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout.readline().strip() == "held"
        with workflow_lock(log_dir, shared=True) as me:
            assert {h.pid for h in holders(log_dir)} == {other.pid, me.pid}
        holder = f"pid {other.pid} on host .* \\(shared, central scheduler\\)"
        with pytest.raises(WorkflowLockedError, match=holder), workflow_lock(log_dir):
            pytest.fail("an exclusive run must not get the lock while a shared one holds it")
    finally:
        other.stdin.close()
        other.wait(timeout=30)
    with workflow_lock(log_dir) as me:  # free again once the shared holder ended
        assert [h.pid for h in holders(log_dir)] == [me.pid]
