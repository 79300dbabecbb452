"""Packing scenarios (tasks_per_job) every backend runs: subclass :class:`PackingScenarios` in a backend's
test folder and give it a ``packing_site`` fixture returning a :class:`PackingSite` for that backend.

Faults are real: a task raises, the steering process gets SIGKILL, a task SIGKILLs its own pack's
process (as the batch system or the kernel's OOM killer would). Every task appends a line to
``runs/<number>`` each time it runs, so the tests see exactly which tasks ran again.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STEERING = """
import os
import time

import b2core as b2luigi

RUNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs")


class Packed(b2luigi.Task):
    number = b2luigi.{parameter}
    tasks_per_job = {tasks_per_job}
    max_resubmissions = {resubmissions}
{settings}
    def output(self):
        yield self.add_to_output("out.txt")

    def run(self):
        os.makedirs(RUNS, exist_ok=True)
        with open(os.path.join(RUNS, str(self.number)), "a") as runs:
            runs.write("run\\n")
        print(f"task {{self.number}} runs")
        time.sleep({seconds})
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
    b2luigi.set_setting("batch_system", {backend!r})
    b2luigi.process(All(), workers={count}, batch=True)
"""

WAIT = 300  # seconds; only stops a hanging test (a shared cluster may queue jobs for minutes)


@dataclass
class PackingSite:
    """Where the scenarios run: a folder, the backend's name, the steering environment, task settings."""

    folder: Path
    backend: str
    env: dict[str, str]
    task_settings: dict[str, Any] = field(default_factory=dict)
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def write(self, count: int, tasks_per_job: int, seconds: float = 0.0, grouping: int = 0, **faults: int) -> Path:
        """The steering script: `count` tasks packed `tasks_per_job` to a job (or `number` grouped, `grouping`
        to a chunk); faults: failing= (always), killer= (kills its job once), resubmissions=."""
        extra = {**self.task_settings, **({"max_grouping_size": grouping} if grouping else {})}
        settings = "".join(f"    {key} = {value!r}\n" for key, value in extra.items())
        parameter = "BatchIntParameter(grouping=True)" if grouping else "IntParameter()"
        script = self.folder / "steering.py"
        script.write_text(
            STEERING.format(
                parameter=parameter,
                tasks_per_job=tasks_per_job,
                resubmissions=faults.get("resubmissions", 1),
                settings=settings,
                seconds=seconds,
                failing=faults.get("failing", -1),
                killer=faults.get("killer", -1),
                count=count,
                backend=self.backend,
            )
        )
        return script

    def run(self, timeout: float = WAIT) -> subprocess.CompletedProcess[str]:
        """Run the steering script to its end with the real command line."""
        return subprocess.run(
            [sys.executable, "steering.py"],
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self) -> subprocess.Popen[str]:
        """Start the steering script in the background (to kill it)."""
        with open(self.folder / "first-run.log", "w") as log:
            process = subprocess.Popen(
                [sys.executable, "steering.py"], cwd=self.folder, env=self.env, stdout=log, stderr=log, text=True
            )
        self.started.append(process)
        return process

    def stop(self) -> None:
        """Kill what start() left running."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)

    def records(self) -> list[tuple[str, int, str | None, str]]:
        """(task_id, attempt, job_id, state) of every job record, read-only."""
        path = self.folder / "logs" / ".b2core" / "jobs.sqlite"
        if not path.exists():
            return []
        try:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
                return list(db.execute("SELECT task_id, attempt, job_id, state FROM jobs"))
        except sqlite3.Error:
            return []

    def attempts(self) -> dict[int, int]:
        """Highest attempt per task number."""
        result: dict[int, int] = {}
        for task_id, attempt, _, _ in self.records():
            number = int(task_id.split("_")[1])
            result[number] = max(result.get(number, 0), attempt)
        return result

    def runs(self) -> dict[int, int]:
        """How often each task's run() started, by number."""
        folder = self.folder / "runs"
        return {int(p.name): len(p.read_text().splitlines()) for p in folder.iterdir()} if folder.is_dir() else {}

    def packs(self) -> list[Path]:
        """The folders of every pack submitted so far."""
        base = self.folder / "task_files" / ".packs"
        return sorted(base.iterdir()) if base.is_dir() else []

    @staticmethod
    def manifest(pack: Path) -> list[str]:
        """The task ids of a pack, in the order its job runs them."""
        return [entry["task_id"] for entry in json.loads((pack / "manifest.json").read_text())["tasks"]]

    def outputs(self) -> set[int]:
        """Numbers of the tasks whose output exists."""
        return {int(p.parent.name.split("=")[1]) for p in self.folder.glob("number=*/out.txt")}

    def wait_for(self, condition: Callable[[], object], what: str) -> object:
        """Poll until condition() is true (WAIT at most)."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}")


class PackingScenarios:
    """Packing conformance scenarios; a subclass supplies the ``packing_site`` fixture."""

    def test_a_failing_task_fails_alone_and_only_it_is_resubmitted(self, packing_site: PackingSite) -> None:
        """6 tasks in packs of 3, task 4 always fails: the run fails, only task 4 gets a second attempt."""
        packing_site.write(count=6, tasks_per_job=3, failing=4)
        run = packing_site.run()
        assert run.returncode == 1, run.stdout + run.stderr
        assert packing_site.outputs() == {0, 1, 2, 3, 5}
        assert packing_site.runs() == {0: 1, 1: 1, 2: 1, 3: 1, 4: 2, 5: 1}
        assert packing_site.attempts() == {0: 1, 1: 1, 2: 1, 3: 1, 4: 2, 5: 1}
        assert len(packing_site.packs()) == 3, "two packs of three, then task 4 alone"
        stderr = next(packing_site.folder.glob("logs/number=4/*/stderr")).read_text()
        assert "task 4 fails on purpose" in stderr
        stdout = next(packing_site.folder.glob("logs/number=3/*/stdout")).read_text()
        assert "task 3 runs" in stdout and "task 4" not in stdout, "each task has its own log files"

    def test_steering_killed_while_packs_run_restart_submits_nothing_twice(self, packing_site: PackingSite) -> None:
        """SIGKILL of the steering process once 8 tasks are out in 2 packs: the restart re-attaches, no new pack."""
        packing_site.write(count=8, tasks_per_job=4, seconds=1.0)
        first = packing_site.start()
        packing_site.wait_for(lambda: sum(1 for r in packing_site.records() if r[2]) == 8, "8 submitted tasks")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        assert len(packing_site.packs()) == 2
        run = packing_site.run()
        assert run.returncode == 0, run.stdout + run.stderr
        assert len(packing_site.packs()) == 2, "the restart submitted a pack again"
        assert packing_site.runs() == dict.fromkeys(range(8), 1)
        assert set(packing_site.attempts().values()) == {1}
        assert packing_site.outputs() == set(range(8))

    def test_job_killed_mid_pack_reruns_only_unfinished_tasks(self, packing_site: PackingSite) -> None:
        """Task 2 of a pack of 5 kills the pack's process: the tasks before it are done, only the rest run again."""
        packing_site.write(count=5, tasks_per_job=5, killer=2)
        run = packing_site.run()
        assert run.returncode == 0, run.stdout + run.stderr
        assert packing_site.outputs() == set(range(5))
        first = packing_site.manifest(next(p for p in packing_site.packs() if len(packing_site.manifest(p)) == 5))
        order = [int(task_id.split("_")[1]) for task_id in first]
        done, unfinished = order[: order.index(2)], order[order.index(2) :]
        assert packing_site.runs() == {n: 2 if n == 2 else 1 for n in range(5)}
        assert packing_site.attempts() == {n: 1 if n in done else 2 for n in range(5)}
        assert sorted(len(packing_site.manifest(pack)) for pack in packing_site.packs()) == sorted([5, len(unfinished)])

    def test_grouped_parameters_share_a_job_in_folders_named_as_b2luigi_does(self, packing_site: PackingSite) -> None:
        """number = BatchIntParameter(grouping=True), max_grouping_size=4: one chunk job, logged under
        number=grouped_0_1_2_3; the failing task 2 alone is resubmitted (number=grouped_2); the chunk fails."""
        packing_site.write(count=4, tasks_per_job=1, grouping=4, failing=2)
        run = packing_site.run()
        assert run.returncode == 1, run.stdout + run.stderr
        assert packing_site.outputs() == {0, 1, 3}
        assert packing_site.runs() == {0: 1, 1: 1, 2: 2, 3: 1}
        chunk = packing_site.folder / "logs" / "number=grouped_0_1_2_3" / "Packed"
        assert "3 of 4 task(s) succeeded" in (chunk / "stdout").read_text()
        assert "did not succeed" in (chunk / "stderr").read_text(), "a chunk succeeds only if all its tasks do"
        assert (packing_site.folder / "logs" / "number=grouped_2" / "Packed" / "stdout").exists()
        assert (packing_site.folder / "logs" / "number=1" / "Packed" / "stdout").exists(), "each task's own logs"
