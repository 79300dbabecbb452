"""Backend conformance scenarios: one kit every batch plugin's tests run against their real cluster or stand-in.

A plugin's test folder subclasses `BackendConformance` with a `cluster` fixture returning a `Cluster`
(a `ShimmedCluster` for a real batch system: its commands are counted through logging shims); pytest
then runs every scenario against that batch system. Each scenario runs real steering scripts the way a
user does (`python steering.py --batch`) and checks results, logs, the job store and command counts.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from b2core.testing.packing import PackingConformance, manifest, packs

#: the seeds' number/average example: ten numbers go out together, then their average
SEEDS_EXAMPLE = """
import random

import b2core as b2luigi


class MyNumberTask(b2luigi.Task):
    some_parameter = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("output_file.txt")

    def run(self):
        print("I am now starting a task")
        with open(self.get_output_file_name("output_file.txt"), "w") as f:
            f.write(f"{{random.random()}}\\n")


class MyAverageTask(b2luigi.Task):
    def requires(self):
        for i in range(10):
            yield self.clone(MyNumberTask, some_parameter=i)

    def output(self):
        yield self.add_to_output("average.txt")

    def run(self):
        print("I am now starting the average task")
        numbers = [float(open(name).read()) for name in self.get_input_file_names("output_file.txt")]
        with open(self.get_output_file_name("average.txt"), "w") as f:
            f.write(f"{{sum(numbers) / len(numbers)}}\\n")


if __name__ == "__main__":
{settings}    b2luigi.process(MyAverageTask(), workers=20, batch=True)
"""

LIGHT_LEAVES = """
import b2core as b2luigi


class Leaf(b2luigi.Task):
    number = b2luigi.IntParameter()
    # a light job payload (sh instead of python), so hundreds of jobs fit on a small test machine
    executable = ["/bin/sh", {writer!r}]

    @property
    def env(self):
        return {{"LEAF_OUTPUT": self.get_output_file_name("leaf.txt")}}

    def output(self):
        yield self.add_to_output("leaf.txt")


class All(b2luigi.WrapperTask):
    def requires(self):
        for number in range({count}):
            yield Leaf(number=number)


if __name__ == "__main__":
{settings}    b2luigi.process(All(), workers={count}, batch=True)
"""

SLEEPERS = """
import time

import b2core as b2luigi


class Sleeper(b2luigi.Task):
    number = b2luigi.IntParameter()
    seconds = b2luigi.FloatParameter(significant=False, default={seconds})

    def output(self):
        yield self.add_to_output("slept.txt")

    def run(self):
        time.sleep(self.seconds)
        with open(self.get_output_file_name("slept.txt"), "w") as f:
            f.write("done\\n")


class All(b2luigi.WrapperTask):
    def requires(self):
        for number in range({count}):
            yield Sleeper(number=number)


if __name__ == "__main__":
{settings}    b2luigi.process(All(), workers=100, batch=True)
"""

#: parts that wait for a "release" file (so a restart finds them still queued or running), then one whole;
#: every run appends its b2core.batch log (submissions, re-attachments) to steering.log next to the script.
#: With a "gate" file there, the first part the run starts (every task's completeness is checked by then)
#: creates "at-gate" and waits for "go" before the run looks at its job
RELEASABLE = """
import logging
import os
import time

import b2core as b2luigi
import luigi

HERE = os.path.dirname(os.path.abspath(__file__))


def wait_for(name):
    deadline = time.time() + 600  # the test creates it; this only ends a forgotten run
    while not os.path.exists(os.path.join(HERE, name)) and time.time() < deadline:
        time.sleep(0.1)


class Part(b2luigi.Task):
    n = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("part.txt")

    def run(self):
        wait_for("release")
        with open(self.get_output_file_name("part.txt"), "w") as f:
            f.write(f"{{self.n}}\\n")


@Part.event_handler(luigi.Event.START)
def wait_at_the_gate(task):
    if os.path.exists(os.path.join(HERE, "gate")):
        open(os.path.join(HERE, "at-gate"), "w").close()
        wait_for("go")


class Whole(b2luigi.Task):
    def requires(self):
        for n in range({count}):
            yield Part(n=n)

    def output(self):
        yield self.add_to_output("whole.txt")

    def run(self):
        total = sum(int(open(name).read()) for name in self.get_input_file_names("part.txt"))
        with open(self.get_output_file_name("whole.txt"), "w") as f:
            f.write(f"{{total}}\\n")


if __name__ == "__main__":
    handler = logging.FileHandler(os.path.join(HERE, "steering.log"))
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logging.getLogger("b2core.batch").addHandler(handler)
    logging.getLogger("b2core.batch").setLevel(logging.INFO)
{settings}    b2luigi.process(Whole(), workers=50, batch=True)
"""

FLAKY = """
import os

import b2core as b2luigi


class Flaky(b2luigi.Task):
    always = b2luigi.BoolParameter()
    max_resubmissions = 1

    def output(self):
        yield self.add_to_output("flaky.txt")

    def run(self):
        marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"tried-{{self.always}}")
        if self.always or not os.path.exists(marker):
            open(marker, "w").close()
            print("failing on purpose", flush=True)
            raise RuntimeError("first attempt fails")
        print("second attempt works", flush=True)
        with open(self.get_output_file_name("flaky.txt"), "w") as f:
            f.write("ok\\n")


class Both(b2luigi.WrapperTask):
    def requires(self):
        yield Flaky(always=False)
        yield Flaky(always=True)


if __name__ == "__main__":
{settings}    b2luigi.process(Both(), workers=4, batch=True)
"""

BROKEN = """
import sys

import b2core as b2luigi


class Broken(b2luigi.Task):
    def output(self):
        yield self.add_to_output("never.txt")

    def run(self):
        print("the input file is corrupt", file=sys.stderr)
        sys.exit(7)


if __name__ == "__main__":
{settings}    b2luigi.process(Broken(), batch=True)
"""


class Cluster(ABC):
    """What a plugin's test folder hands the kit: a batch system private to one test, and how to watch it."""

    #: the batch_system value of the plugin, and its submit and cancel commands
    batch_system: ClassVar[str] = ""
    submit_tool: ClassVar[str] = ""
    cancel_tool: ClassVar[str] = ""
    #: environment of every steering process: fast polling so the scenarios take seconds, not minutes
    fast_env: ClassVar[dict[str, str]] = {
        "B2CORE_POLL_INTERVAL": "0.5",
        "B2CORE_SUBMIT_INTERVAL": "0.3",
        "B2CORE_BATCH_COMMAND_RETRY_WAIT": "0.1",
    }

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.extra_env: dict[str, str] = {}
        self.processes: list[subprocess.Popen[str]] = []

    @property
    def settings(self) -> dict[str, Any]:
        """Settings every steering script sets first; extend it to pass e.g. a unique job_name."""
        return {"batch_system": self.batch_system}

    @abstractmethod
    def count(self, tool: str) -> int:
        """How often this test's steering processes ran one batch command."""

    @abstractmethod
    def active_ids(self) -> list[str]:
        """Ids (spelled as the backend spells them) of this test's jobs the batch system still has unfinished."""

    @abstractmethod
    def kill_next_submitter(self) -> None:
        """Make the next submit command submit, answer and then SIGKILL its caller (the steering process)."""

    def env(self) -> dict[str, str]:
        """The environment of steering processes: no B2CORE_ settings of the caller, fast polling."""
        keep = ("B2CORE_REQUIRE_CLUSTERS",)
        env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_") or k in keep}
        env.update(self.fast_env, PYTHONUNBUFFERED="1")
        env.update(self.extra_env)
        return env

    def script(self, text: str, name: str = "steering.py") -> Path:
        """Write a steering script into the test folder."""
        path = self.folder / name
        path.write_text(textwrap.dedent(text))
        return path

    def steering(self, template: str, settings: dict[str, Any] | None = None, **fields: Any) -> Path:
        """A steering script from one of this module's templates; its main block sets `settings`
        (default: `self.settings`) before process()."""
        settings = self.settings if settings is None else settings
        lines = "".join(f"    b2luigi.set_setting({key!r}, {value!r})\n" for key, value in settings.items())
        return self.script(template.format(settings=lines, **fields))

    def sleepers(self, seconds: float, count: int, settings: dict[str, Any] | None = None) -> Path:
        """`count` tasks whose jobs sleep, so a test can interrupt or kill the run meanwhile."""
        return self.steering(SLEEPERS, settings, seconds=seconds, count=count)

    def light_leaves(self, count: int) -> Path:
        """`count` tasks whose jobs are one shell command each."""
        writer = self.folder / "write_output.sh"
        writer.write_text('#!/bin/sh\nmkdir -p "$(dirname "$LEAF_OUTPUT")" && echo done > "$LEAF_OUTPUT"\n')
        return self.steering(LIGHT_LEAVES, writer=str(writer), count=count)

    def releasable(self, count: int) -> Path:
        """`count` parts that wait for the file `release` in the test folder, then a whole."""
        return self.steering(RELEASABLE, count=count)

    def run(self, script: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run a steering script to its end, as a user would: python script.py --batch."""
        return subprocess.run(
            [sys.executable, str(script), "--batch", *args],
            cwd=self.folder,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, script: Path, *args: str) -> subprocess.Popen[str]:
        """Start a steering script in the background (for Ctrl-C and kill scenarios), in its own folder."""
        process = subprocess.Popen(
            [sys.executable, str(script), "--batch", *args],
            cwd=script.parent,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def job_store(self, folder: Path | None = None) -> list[dict[str, Any]]:
        """Every row of the run's job store (or of the run in `folder`), ordered by task and attempt;
        [] before it has its schema."""
        path = (folder or self.folder) / "logs" / ".b2core" / "jobs.sqlite"
        if not path.exists():
            return []
        db = sqlite3.connect(str(path), timeout=30)
        try:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("SELECT * FROM jobs ORDER BY task_id, attempt")]
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return []
            raise
        finally:
            db.close()

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float = 120, what: str = "condition") -> Any:
        """Poll until predicate() is truthy and return its value; fail naming `what` after timeout seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def cleanup(self) -> None:
        """Kill steering processes a failed test left behind (they are our own children)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.communicate()


#: the submit shim's kill knob: with the marker file present (removed on use) it submits, answers, kills its caller
_KILL_SUBMITTER = """if rm "$B2CORE_TEST_KILL_SUBMITTER" 2>/dev/null; then
    {real} "$@"
    kill -9 "$PPID"
    exit 0
fi
"""


class ShimmedCluster(Cluster):
    """A real batch system: its commands run through shims first on PATH that log each call."""

    #: every command of the batch system the backend may run (the shims count them)
    tools: ClassVar[tuple[str, ...]] = ()
    fast_env: ClassVar[dict[str, str]] = {"B2CORE_POLL_INTERVAL": "1", "B2CORE_SUBMIT_INTERVAL": "0.5"}

    @property
    def calls_log(self) -> Path:
        """One line per batch command the steering processes ran (written by the shims)."""
        return self.folder / "batch-calls.log"

    def env(self) -> dict[str, str]:
        """The shims first on PATH."""
        env = super().env()
        env["PATH"] = f"{self._shims()}{os.pathsep}{env.get('PATH', '')}"
        env["B2CORE_TEST_KILL_SUBMITTER"] = str(self.folder / "kill-submitter")
        return env

    def count(self, tool: str) -> int:
        """Lines of the calls log naming `tool`."""
        if not self.calls_log.exists():
            return 0
        return sum(1 for line in self.calls_log.read_text().splitlines() if line.split(" ", 1)[0] == tool)

    def kill_next_submitter(self) -> None:
        """Create the marker the submit shim looks for."""
        (self.folder / "kill-submitter").touch()

    def _shims(self) -> Path:
        folder = self.folder / "shims"
        if folder.exists():
            return folder
        folder.mkdir()
        for tool in self.tools:
            real = _which_outside(tool, folder)
            shim = folder / tool
            kill = _KILL_SUBMITTER.format(real=_quote(real)) if tool == self.submit_tool else ""
            shim.write_text(
                f'#!/bin/sh\necho "{tool} $*" >> {_quote(str(self.calls_log))}\n{kill}exec {_quote(real)} "$@"\n'
            )
            shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        return folder


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _which_outside(command: str, skip: Path) -> str:
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = Path(folder) / command
        if folder and Path(folder) != skip and os.access(candidate, os.X_OK):
            return str(candidate)
    return command


class BackendConformance(PackingConformance):
    """The scenarios every batch backend must pass; subclass it as `TestXConformance` with a `cluster` fixture.

    Class attributes size the scenarios for the batch system (a real cluster on 2 cores, or a stand-in).
    """

    #: how many light jobs the many-jobs scenario runs, and at most how many submit commands they may take
    many_jobs: ClassVar[int] = 200
    max_submissions: ClassVar[int] = 10
    #: jobs the Ctrl-C and restart scenarios keep in flight
    in_flight: ClassVar[int] = 12
    #: upper bound of every wait and run; only stops a hanging test, nothing here measures speed
    timeout: ClassVar[float] = 300

    @pytest.fixture
    def cluster(self) -> Iterator[Cluster]:
        """Overridden by the plugin's test class: its batch system for one test (cleaned up afterwards)."""
        raise NotImplementedError("a BackendConformance subclass defines a `cluster` fixture")

    def test_seeds_example(self, cluster: Cluster) -> None:
        """The seeds' number/average example runs: ten numbers in one submission, then their average."""
        result = cluster.run(cluster.steering(SEEDS_EXAMPLE), timeout=self.timeout)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        folder = cluster.folder
        numbers = [float((folder / f"some_parameter={i}" / "output_file.txt").read_text()) for i in range(10)]
        assert float((folder / "average.txt").read_text()) == pytest.approx(sum(numbers) / 10)
        number_log = folder / "logs" / "some_parameter=3" / "MyNumberTask" / "stdout"
        assert "I am now starting a task" in number_log.read_text()
        assert "starting the average task" in (folder / "logs" / "MyAverageTask" / "stdout").read_text()
        jobs = cluster.job_store()
        assert len(jobs) == 11 and {job["backend"] for job in jobs} == {cluster.batch_system}
        assert {job["state"] for job in jobs} == {"succeeded"}
        assert cluster.count(cluster.submit_tool) == 2, "the ten numbers go out in one submission"

    def test_failing_job_summary(self, cluster: Cluster) -> None:
        """A job exiting 7: the run exits 1 naming the task, the exit code, its stderr file and its tail."""
        result = cluster.run(cluster.steering(BROKEN), timeout=self.timeout)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output[-5000:]
        stderr_path = cluster.folder / "logs" / "Broken" / "stderr"
        assert "Broken" in output and str(stderr_path) in output
        assert "exit code 7" in output and "the input file is corrupt" in output
        [job] = cluster.job_store()
        assert (job["state"], job["exit_code"]) == ("failed", 7)

    def test_many_light_jobs_take_few_submissions(self, cluster: Cluster) -> None:
        """Hundreds of runnable tasks go out in a handful of submit commands, each task exactly once."""
        result = cluster.run(cluster.light_leaves(self.many_jobs), timeout=2 * self.timeout)
        assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
        assert len(list(cluster.folder.glob("number=*/leaf.txt"))) == self.many_jobs
        jobs = cluster.job_store()
        assert len(jobs) == self.many_jobs and {job["attempt"] for job in jobs} == {1}
        assert len({job["job_id"] for job in jobs}) == self.many_jobs
        assert 1 <= cluster.count(cluster.submit_tool) <= self.max_submissions

    def test_failed_job_is_resubmitted(self, cluster: Cluster) -> None:
        """max_resubmissions = 1: a job failing once succeeds on attempt 2; one failing always stops after 2."""
        result = cluster.run(cluster.steering(FLAKY), timeout=self.timeout)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output[-5000:]
        assert (cluster.folder / "always=False" / "flaky.txt").read_text() == "ok\n"
        assert not (cluster.folder / "always=True" / "flaky.txt").exists()
        logs = cluster.folder / "logs" / "always=False" / "Flaky"
        assert "failing on purpose" in (logs / "attempt-1" / "stdout").read_text()
        assert "first attempt fails" in (logs / "attempt-1" / "stderr").read_text()
        assert "second attempt works" in (logs / "stdout").read_text()
        by_task: dict[str, list[str]] = {}
        for job in cluster.job_store():
            by_task.setdefault(job["task_id"], []).append(job["state"])
        assert sorted(by_task.values()) == [["failed", "failed"], ["failed", "succeeded"]]
        assert "(attempt 2)" in output

    def test_ctrl_c_cancels_every_job_in_one_command(self, cluster: Cluster) -> None:
        """SIGINT to the steering process: all its jobs go in one cancel command, none stays queued or running."""
        count = self.in_flight
        process = cluster.start(cluster.sleepers(300, count))
        cluster.wait_for(
            lambda: [job["state"] for job in cluster.job_store()].count("running") == count,
            self.timeout,
            f"{count} running jobs",
        )
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=self.timeout)
        assert process.returncode != 0
        assert f"cancelled {count} batch job(s)" in stdout + stderr
        assert cluster.count(cluster.cancel_tool) == 1
        cluster.wait_for(lambda: not cluster.active_ids(), 60, "the cancelled jobs to leave the queue")

    def test_restart_after_kill_reattaches(self, cluster: Cluster) -> None:
        """SIGKILL the steering process with jobs in flight; the restart re-attaches, nothing is submitted twice."""
        count = self.in_flight
        script = cluster.releasable(count)
        first = cluster.start(script)
        cluster.wait_for(
            lambda: (
                len([j for j in cluster.job_store() if j["job_id"] and j["state"] in ("queued", "running")]) == count
            ),
            self.timeout,
            f"{count} submitted jobs in the job store",
        )
        first.kill()
        first.communicate()
        before = {job["task_id"]: job["job_id"] for job in cluster.job_store()}
        assert len(before) == count and cluster.count(cluster.submit_tool) == 1
        reattached = self._restart_and_release(cluster, script, count)
        assert sorted(reattached) == sorted(before.values())
        parts = [job for job in cluster.job_store() if job["family"] == "Part"]
        assert {job["task_id"]: job["job_id"] for job in parts} == before
        assert {job["attempt"] for job in parts} == {1}, "no task was submitted a second time"
        assert cluster.count(cluster.submit_tool) == 2, "the restarted run submitted only the whole"

    def test_restart_after_kill_right_after_submission_finds_the_jobs(self, cluster: Cluster) -> None:
        """The submit command answered but the ids never reached the job store: the restart finds the jobs
        (the backend's find) and re-attaches, submitting nothing twice."""
        count = self.in_flight // 2
        script = cluster.releasable(count)
        self._kill_right_after_submission(cluster, script, count)
        ids = sorted(cluster.active_ids())
        assert len(ids) == count and cluster.count(cluster.submit_tool) == 1
        reattached = self._restart_and_release(cluster, script, count)
        assert sorted(reattached) == ids
        records = cluster.job_store()
        assert len(records) == count + 1 and {job["attempt"] for job in records} == {1}
        assert sorted(job["job_id"] for job in records if job["family"] == "Part") == ids
        assert cluster.count(cluster.submit_tool) == 2, "the lost group and the whole, nothing twice"

    def test_restart_after_a_lost_submission_never_takes_another_workflows_jobs(self, cluster: Cluster) -> None:
        """The same workflow in a second folder submits after a lost submission of the first, with the same
        task ids and job name: the restart re-attaches to its own jobs only, and both runs finish."""
        count = self.in_flight // 2
        script = cluster.releasable(count)
        neighbour_folder = cluster.folder / "neighbour"
        neighbour_folder.mkdir()
        neighbour_script = neighbour_folder / script.name
        neighbour_script.write_text(script.read_text())
        self._kill_right_after_submission(cluster, script, count)
        own = sorted(cluster.active_ids())
        neighbour = cluster.start(neighbour_script)  # its jobs are newer than the lost ones

        def neighbour_submitted() -> set[str] | None:
            ids = {job["job_id"] for job in cluster.job_store(neighbour_folder) if job["job_id"]}
            return ids if len(ids) == count else None

        neighbour_jobs = cluster.wait_for(
            neighbour_submitted, self.timeout, f"the neighbour workflow's {count} jobs in its job store"
        )
        assert len(own) == count and not neighbour_jobs & set(own)
        assert sorted(self._restart_and_release(cluster, script, count)) == own
        (neighbour_folder / "release").touch()
        stdout, stderr = neighbour.communicate(timeout=self.timeout)
        assert neighbour.returncode == 0, (stdout + stderr)[-5000:]
        assert (neighbour_folder / "whole.txt").read_text() == f"{sum(range(count))}\n"
        assert {job["job_id"] for job in cluster.job_store(neighbour_folder) if job["family"] == "Part"} == (
            neighbour_jobs
        )

    def test_restart_after_kill_right_after_a_pack_submission_finds_the_packs(self, cluster: Cluster) -> None:
        """As above with tasks_per_job=4: the submit command of two packs answered, the steering process died
        before any id reached the job store; the restart finds the packs' jobs through their manifests and
        re-attaches every task, so no task runs twice and none is lost."""
        count = 8
        script = cluster.steering(RELEASABLE, {**cluster.settings, "tasks_per_job": 4}, count=count)
        self._kill_right_after_submission(cluster, script, count)
        assert [len(manifest(pack)) for pack in packs(cluster)] == [4, 4]
        assert len(cluster.active_ids()) == 2 and cluster.count(cluster.submit_tool) == 1
        reattached = self._restart_and_release(cluster, script, count)
        assert len(reattached) == count and len(set(reattached)) == 2, "every task re-attached to one of the packs"
        records = cluster.job_store()
        assert len(records) == count + 1 and {job["attempt"] for job in records} == {1}
        assert [len(manifest(pack)) for pack in packs(cluster)] == [4, 4, 1], "the restart packed only the whole"
        assert cluster.count(cluster.submit_tool) == 2

    def test_restart_after_kill_right_after_a_pack_submission_sees_the_packs_ended_meanwhile(
        self, cluster: Cluster
    ) -> None:
        """As above, but the packs end after the restart checked its tasks' completeness and before it looks
        for their jobs, which the batch system then no longer lists: the packs' exit markers tell that every
        task ended, so none is submitted again."""
        count = 8
        script = cluster.steering(RELEASABLE, {**cluster.settings, "tasks_per_job": 4}, count=count)
        self._kill_right_after_submission(cluster, script, count)
        (cluster.folder / "gate").touch()
        second = cluster.start(script)
        cluster.wait_for(lambda: (cluster.folder / "at-gate").exists(), self.timeout, "the restart's first task")
        (cluster.folder / "release").touch()
        cluster.wait_for(lambda: not cluster.active_ids(), self.timeout, "the packs to end")
        (cluster.folder / "go").touch()
        stdout, stderr = second.communicate(timeout=self.timeout)
        assert second.returncode == 0, (stdout + stderr)[-5000:]
        assert (cluster.folder / "whole.txt").read_text() == f"{sum(range(count))}\n"
        records = cluster.job_store()
        assert len(records) == count + 1 and {job["attempt"] for job in records} == {1}, "no task ran twice"
        assert [len(manifest(pack)) for pack in packs(cluster)] == [4, 4, 1], "the restart packed only the whole"
        assert cluster.count(cluster.submit_tool) == 2

    def _kill_right_after_submission(self, cluster: Cluster, script: Path, count: int) -> None:
        """Start the workflow; its first submit command submits, answers and SIGKILLs it: `count` records
        are left as submitting, without job ids."""
        cluster.kill_next_submitter()
        first = cluster.start(script)
        first.communicate(timeout=self.timeout)
        assert first.returncode == -signal.SIGKILL
        lost = cluster.job_store()
        assert len(lost) == count
        assert {(job["attempt"], job["job_id"], job["state"]) for job in lost} == {(1, None, "submitting")}

    def _restart_and_release(self, cluster: Cluster, script: Path, count: int) -> list[str]:
        """Restart the releasable workflow, wait until it re-attached to `count` jobs, release them; the ids."""
        second = cluster.start(script)
        # a packed task's job id names its pack's job, then "[task N of pack FOLDER]"
        packed = r"(?: \[task \d+ of pack [^\]]*\])?"
        line = re.compile(rf"^b2core\.batch Re-attached to {cluster.batch_system} job (\S+){packed} of task", re.M)
        log = cluster.folder / "steering.log"
        reattached = cluster.wait_for(
            lambda: len(found := line.findall(log.read_text())) == count and found,
            self.timeout,
            f"the restart to re-attach to {count} jobs",
        )
        (cluster.folder / "release").touch()
        stdout, stderr = second.communicate(timeout=self.timeout)
        assert second.returncode == 0, (stdout + stderr)[-5000:]
        assert (cluster.folder / "whole.txt").read_text() == f"{sum(range(count))}\n"
        return reattached
