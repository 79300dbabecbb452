"""Packing scenarios (tasks_per_job, grouped parameters) of the backend conformance kit: BackendConformance
includes :class:`PackingConformance`, so every batch plugin's conformance class runs them on its cluster.

Faults are real: a task raises, the steering process gets SIGKILL, a task SIGKILLs its own pack's
process (as the batch system or the kernel's OOM killer would). Every task appends a line to
``runs/<number>`` each time it runs, so the tests see exactly which tasks ran again.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from b2core.testing.conformance import Cluster

STEERING = """
import os
import time

import b2core as b2luigi

RUNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs")


def wait_for(what, ready):  # at most 120 s: a task never hangs its job for ever
    deadline = time.monotonic() + 120
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {{what}}")
        time.sleep(0.05)


class Packed(b2luigi.Task):
    number = b2luigi.{parameter}
    tasks_per_job = {tasks_per_job}
    cores_per_job = {cores}
    max_grouping_size = {grouping}
    max_resubmissions = {resubmissions}

    def output(self):
        yield self.add_to_output("out.txt")

    def run(self):
        os.makedirs(RUNS, exist_ok=True)
        with open(os.path.join(RUNS, str(self.number)), "a") as runs:
            runs.write("run\\n")
        print(f"task {{self.number}} runs")
        time.sleep({seconds})
        if {together}:
            os.makedirs(RUNS + ".started", exist_ok=True)
            open(os.path.join(RUNS + ".started", str(self.number)), "w").close()
            wait_for("{together} running tasks", lambda: len(os.listdir(RUNS + ".started")) >= {together})
        if self.number == {failing}:
            raise ValueError(f"task {{self.number}} fails on purpose")
        if self.number == {killer} and not os.path.exists(RUNS + ".killed"):
            open(RUNS + ".killed", "w").close()
            os.kill(os.getpid(), 9)  # the whole pack's process dies mid-pack
        with open(self.get_output_file_name("out.txt"), "w") as f:
            f.write(str(self.number))


class All(b2luigi.WrapperTask):
    def requires(self):
        for number in range({count}):
            yield Packed(number=number)


if __name__ == "__main__":
{settings}    b2luigi.process(All(), workers={count}, batch=True)
"""


BRANCHES = """
import b2core as b2luigi


class Chars(b2luigi.Workflow, b2luigi.Task):
    tasks_per_job = 5

    def create_branch_map(self):
        return {{number: chr(97 + number) for number in range({count})}}

    def output(self):
        yield self.add_to_output("char.txt")

    def run(self):
        with open(self.get_output_file_name("char.txt"), "w") as f:
            f.write(self.branch_data)


if __name__ == "__main__":
{settings}    b2luigi.process(Chars(), workers=2)
"""


def attempts(cluster: Cluster) -> dict[int, int]:
    """Highest attempt per task number."""
    result: dict[int, int] = {}
    for record in cluster.job_store():
        number = int(record["task_id"].split("_")[1])
        result[number] = max(result.get(number, 0), record["attempt"])
    return result


def runs(cluster: Cluster) -> dict[int, int]:
    """How often each task's run() started, by number."""
    folder = cluster.folder / "runs"
    return {int(p.name): len(p.read_text().splitlines()) for p in folder.iterdir()} if folder.is_dir() else {}


def packs(cluster: Cluster) -> list[Path]:
    """The folders of every pack submitted so far, oldest first."""
    base = cluster.folder / "task_files" / ".packs"
    folders = list(base.iterdir()) if base.is_dir() else []
    return sorted(folders, key=lambda folder: (folder / "manifest.json").stat().st_mtime_ns)


def manifest(pack: Path) -> list[str]:
    """The task ids of a pack, in the order its job runs them."""
    return [entry["task_id"] for entry in json.loads((pack / "manifest.json").read_text())["tasks"]]


def outputs(cluster: Cluster) -> set[int]:
    """Numbers of the tasks whose output exists."""
    return {int(p.parent.name.split("=")[1]) for p in cluster.folder.glob("number=*/out.txt")}


def packed(cluster: Cluster, count: int, tasks_per_job: int, seconds: float = 0.0, **options: int) -> Path:
    """The steering script: `count` tasks packed `tasks_per_job` to a job (`cores=` at a time), or with
    `grouping=n` their number grouped n to a chunk; faults: failing= (always fails), killer= (kills its job
    once), resubmissions=; together=n: a task finishes only once n tasks have started (it fails after 120 s
    without them)."""
    grouping = options.get("grouping", 0)
    return cluster.steering(
        STEERING,
        parameter="BatchIntParameter(grouping=True)" if grouping else "IntParameter()",
        grouping=grouping or 1,
        tasks_per_job=tasks_per_job,
        cores=options.get("cores", 1),
        together=options.get("together", 0),
        resubmissions=options.get("resubmissions", 1),
        seconds=seconds,
        failing=options.get("failing", -1),
        killer=options.get("killer", -1),
        count=count,
    )


class PackingConformance:
    """The packing scenarios; part of BackendConformance, so every backend's conformance class runs them
    against its `cluster` fixture."""

    #: upper bound of every run; only stops a hanging test
    timeout: ClassVar[float] = 300

    def test_a_failing_task_fails_alone_and_only_it_is_resubmitted(self, cluster: Cluster) -> None:
        """6 tasks in packs of 3, task 4 always fails: the run fails, only task 4 gets a second attempt."""
        result = cluster.run(packed(cluster, count=6, tasks_per_job=3, failing=4), timeout=self.timeout)
        assert result.returncode == 1, (result.stdout + result.stderr)[-5000:]
        assert outputs(cluster) == {0, 1, 2, 3, 5}
        assert runs(cluster) == {0: 1, 1: 1, 2: 1, 3: 1, 4: 2, 5: 1}
        assert attempts(cluster) == {0: 1, 1: 1, 2: 1, 3: 1, 4: 2, 5: 1}
        assert len(packs(cluster)) == 3, "two packs of three, then task 4 alone"
        assert "task 4 fails on purpose" in (cluster.folder / "logs" / "number=4" / "Packed" / "stderr").read_text()
        stdout = (cluster.folder / "logs" / "number=3" / "Packed" / "stdout").read_text()
        assert "task 3 runs" in stdout and "task 4" not in stdout, "each task has its own log files"

    def test_steering_killed_while_packs_run_restart_submits_nothing_twice(self, cluster: Cluster) -> None:
        """SIGKILL of the steering process once 8 tasks are out in 2 packs: the restart re-attaches, no new pack."""
        script = packed(cluster, count=8, tasks_per_job=4, seconds=1.0)
        first = cluster.start(script)
        submitted = lambda: sum(1 for record in cluster.job_store() if record["job_id"]) == 8  # noqa: E731
        cluster.wait_for(submitted, timeout=self.timeout, what="8 submitted tasks")
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)
        assert len(packs(cluster)) == 2
        result = cluster.run(script, timeout=self.timeout)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        assert len(packs(cluster)) == 2, "the restart submitted a pack again"
        assert runs(cluster) == dict.fromkeys(range(8), 1)
        assert set(attempts(cluster).values()) == {1}
        assert outputs(cluster) == set(range(8))

    def test_job_killed_mid_pack_reruns_only_unfinished_tasks(self, cluster: Cluster) -> None:
        """Task 2 of a pack of 5 kills the pack's process: the tasks before it are done, only the rest run again."""
        result = cluster.run(packed(cluster, count=5, tasks_per_job=5, killer=2), timeout=self.timeout)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        assert outputs(cluster) == set(range(5))
        order = [int(task_id.split("_")[1]) for task_id in manifest(packs(cluster)[0])]
        done, unfinished = order[: order.index(2)], order[order.index(2) :]
        assert runs(cluster) == {n: 2 if n == 2 else 1 for n in range(5)}
        assert attempts(cluster) == {n: 1 if n in done else 2 for n in range(5)}
        assert [len(manifest(pack)) for pack in packs(cluster)] == [5, len(unfinished)]

    def test_grouped_parameters_share_a_job_in_folders_named_as_b2luigi_does(self, cluster: Cluster) -> None:
        """number = BatchIntParameter(grouping=True), max_grouping_size=4: one chunk job, logged under
        number=grouped_0_1_2_3; the failing task 2 alone is resubmitted (number=grouped_2); the chunk fails."""
        result = cluster.run(packed(cluster, count=4, tasks_per_job=1, grouping=4, failing=2), timeout=self.timeout)
        assert result.returncode == 1, (result.stdout + result.stderr)[-5000:]
        assert outputs(cluster) == {0, 1, 3}
        assert runs(cluster) == {0: 1, 1: 1, 2: 2, 3: 1}
        logs = cluster.folder / "logs"
        assert "3 of 4 task(s) succeeded" in (logs / "number=grouped_0_1_2_3" / "Packed" / "stdout").read_text()
        assert "did not succeed" in (logs / "number=grouped_0_1_2_3" / "Packed" / "stderr").read_text()
        assert (logs / "number=grouped_2" / "Packed" / "stdout").exists(), "the failed task alone, resubmitted"
        assert (logs / "number=1" / "Packed" / "stdout").exists(), "each task keeps its own logs"

    def test_tasks_of_a_pack_run_at_the_same_time_with_cores_per_job(self, cluster: Cluster) -> None:
        """cores_per_job=4, one pack of 4 whose tasks finish only once all 4 have started (so they ran side by
        side, not one after another); each keeps its own log files and job record."""
        result = cluster.run(packed(cluster, count=4, tasks_per_job=4, cores=4, together=4), timeout=self.timeout)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        assert outputs(cluster) == set(range(4))
        assert runs(cluster) == dict.fromkeys(range(4), 1)
        assert [len(manifest(pack)) for pack in packs(cluster)] == [4]
        records = cluster.job_store()
        assert sorted(int(r["task_id"].split("_")[1]) for r in records) == list(range(4))
        assert {(r["attempt"], r["state"], r["exit_code"]) for r in records} == {(1, "succeeded", 0)}
        assert len({r["job_id"] for r in records}) == 4, "one job record per task, each its own id in the pack"
        for number in range(4):
            logs = cluster.folder / "logs" / f"number={number}" / "Packed"
            lines = [line for line in (logs / "stdout").read_text().splitlines() if line.startswith("task ")]
            assert lines == [f"task {number} runs"], f"task {number}'s stdout holds only its own output"

    def test_branch_workflow_runs_the_branches_asked_for_in_packs(self, cluster: Cluster) -> None:
        """--branches 0-3,7 of a 12-branch workflow: one luigi task, its 5 branches in one pack; --branch 9 one."""
        script = cluster.steering(BRANCHES, count=12)
        result = cluster.run(script, "--branches", "0-3,7", timeout=self.timeout)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        written = {p.parent.name: p.read_text() for p in cluster.folder.glob("branch=*/char.txt")}
        assert written == {f"branch={n}": chr(97 + n) for n in (0, 1, 2, 3, 7)}
        assert "1 ran successfully" in result.stdout + result.stderr, "the workflow is one task for luigi"
        assert len(packs(cluster)) == 1 and len(manifest(packs(cluster)[0])) == 5
        result = cluster.run(script, "--branch", "9", timeout=self.timeout)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        assert (cluster.folder / "branch=9" / "char.txt").read_text() == "j"
        assert len(cluster.job_store()) == 6
