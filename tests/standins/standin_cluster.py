"""A stand-in batch system (HTCondor, LSF) private to one test: state folder, call log, steering scripts.

Shared by the plugins' end-to-end tests, which import it with tests/standins on sys.path."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: the stand-in tree; B2CORE_TEST_STANDINS points the tests at another one (e.g. a patched copy)
STANDINS = Path(os.environ.get("B2CORE_TEST_STANDINS") or Path(__file__).resolve().parent)
BIN = {"htcondor": STANDINS / "htcondor" / "bin", "lsf": STANDINS / "lsf" / "bin"}
FAST = {"B2CORE_POLL_INTERVAL": "0.3", "B2CORE_SUBMIT_INTERVAL": "0.1", "B2CORE_BATCH_COMMAND_RETRY_WAIT": "0.1"}


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
    b2luigi.set_setting("batch_system", {batch_system!r})
    b2luigi.process(All(), workers={count}, batch=True)
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
#: every run appends its b2core.batch log (submissions, re-attachments) to steering.log next to the script
RELEASABLE = """
import logging
import os
import time

import b2core as b2luigi

RELEASE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "release")


class Part(b2luigi.Task):
    n = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("part.txt")

    def run(self):
        deadline = time.time() + 300  # the test releases the parts; this only ends a forgotten job
        while not os.path.exists(RELEASE) and time.time() < deadline:
            time.sleep(0.1)
        with open(self.get_output_file_name("part.txt"), "w") as f:
            f.write(f"{{self.n}}\\n")


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
    handler = logging.FileHandler(os.path.join(os.path.dirname(os.path.abspath(__file__)), "steering.log"))
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logging.getLogger("b2core.batch").addHandler(handler)
    logging.getLogger("b2core.batch").setLevel(logging.INFO)
    b2luigi.set_setting("batch_system", "{system}")
    b2luigi.process(Whole(), workers=50, batch=True)
"""


class StandinCluster:
    """A private stand-in batch system for one test; `systems` are put on PATH, the first is the default."""

    def __init__(self, folder: Path, systems: list[str]) -> None:
        self.folder = folder
        self.state = folder / "standin-state"
        self.state.mkdir()
        self.systems = list(systems)
        self.extra_env: dict[str, str] = {}
        self.processes: list[subprocess.Popen[str]] = []

    def env(self) -> dict[str, str]:
        """The environment of steering scripts and commands: stand-ins first on PATH, fast polling."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("B2CORE_", "_CONDOR", "LSB_"))}
        path = os.pathsep.join([*(str(BIN[name]) for name in self.systems), env.get("PATH", os.defpath)])
        env.update(FAST, B2CORE_STANDIN_DIR=str(self.state), PATH=path)
        env.update(self.extra_env)
        return env

    def script(self, text: str, name: str = "steering.py") -> Path:
        """Write a steering script into the test folder."""
        path = self.folder / name
        path.write_text(text)
        return path

    def sleepers(self, seconds: float, count: int, settings: dict[str, Any] | None = None) -> Path:
        """A steering script of `count` tasks whose jobs sleep (so a test can interrupt or kill it meanwhile);
        `settings` are set first, by default batch_system = the first system."""
        settings = {"batch_system": self.systems[0]} if settings is None else settings
        lines = "".join(f"    b2luigi.set_setting({key!r}, {value!r})\n" for key, value in settings.items())
        return self.script(SLEEPERS.format(seconds=seconds, count=count, settings=lines))

    def lose_a_submission_and_restart(self, count: int, submit_tool: str, active_ids: Callable[[], list[str]]) -> None:
        """Kill the steering process right after `submit_tool` answers, then restart it: the restart must find
        the `count` lost jobs (the backend's find) and re-attach, submitting nothing twice; `active_ids` lists
        the stand-in's active job ids as the backend spells them."""
        script = self.releasable(count)
        self.kill_next_submitter()
        first = self.start(script)
        first.communicate(timeout=90)
        assert first.returncode == -signal.SIGKILL
        lost = self.job_records()
        assert len(lost) == count
        assert {(attempt, job_id, state) for _, attempt, job_id, state in lost} == {(1, None, "submitting")}
        ids = sorted(active_ids())
        assert len(ids) == count and len(self.calls(submit_tool)) == 1

        second = self.start(script)
        reattached_line = re.compile(rf"^b2core\.batch Re-attached to {self.systems[0]} job (\S+) of task", re.M)
        log = self.folder / "steering.log"
        reattached = self.wait_for(
            lambda: len(found := reattached_line.findall(log.read_text())) == count and found,
            what=f"the restart to find {count} jobs",
        )
        (self.folder / "release").touch()
        stdout, stderr = second.communicate(timeout=90)
        assert second.returncode == 0, (stdout + stderr)[-3000:]
        assert sorted(reattached) == ids
        records = self.job_records()
        assert len(records) == count + 1 and {attempt for _, attempt, _, _ in records} == {1}
        lost_tasks = {task_id for task_id, *_ in lost}
        assert sorted(job_id for task_id, _, job_id, _ in records if task_id in lost_tasks) == ids
        assert len(self.calls(submit_tool)) == 2, "the lost group and the whole, nothing twice"
        assert len(list(self.folder.glob("n=*/part.txt"))) == count
        assert (self.folder / "whole.txt").read_text() == f"{sum(range(count))}\n"

    def light_leaves(self, count: int) -> Path:
        """A steering script of `count` tasks whose jobs are one shell command each, on the first system."""
        writer = self.folder / "write_output.sh"
        writer.write_text('#!/bin/sh\nmkdir -p "$(dirname "$LEAF_OUTPUT")" && echo done > "$LEAF_OUTPUT"\n')
        return self.script(LIGHT_LEAVES.format(writer=str(writer), count=count, batch_system=self.systems[0]))

    def releasable(self, count: int) -> Path:
        """A steering script of `count` parts that wait for the file `release` in the test folder, then a whole."""
        return self.script(RELEASABLE.format(count=count, system=self.systems[0]))

    def kill_next_submitter(self) -> None:
        """The next condor_submit/bsub answers and then SIGKILLs its caller (the stand-ins' kill_submitter knob)."""
        (self.state / "kill_submitter").write_text("")

    def run(self, script: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
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
        """Start a steering script in the background (for Ctrl-C and kill tests)."""
        process = subprocess.Popen(
            [sys.executable, str(script), "--batch", *args],
            cwd=self.folder,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def command(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run one stand-in command (condor_hold, bjobs, ...) against this cluster."""
        return subprocess.run(list(argv), env=self.env(), capture_output=True, text=True, timeout=30)

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        """Every recorded invocation of the stand-ins, optionally of one tool."""
        path = self.state / "calls.jsonl"
        if not path.exists():
            return []
        calls = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [call for call in calls if tool is None or call["tool"] == tool]

    def jobs(self, system: str | None = None) -> dict[str, dict[str, Any]]:
        """A stand-in's job table (queue and history): one file per job, or one queue.json (see _queue.py)."""
        system = system or self.systems[0]
        folder = self.state / system / "jobs"
        if folder.is_dir():
            jobs = {}
            for path in folder.glob("*.json"):
                with contextlib.suppress(FileNotFoundError, ValueError):  # files are replaced atomically
                    jobs[path.stem] = json.loads(path.read_text())
            return jobs
        path = self.state / system / "queue.json"
        return json.loads(path.read_text())["jobs"] if path.exists() else {}

    def job_records(self) -> list[tuple[str, int, str | None, str]]:
        """(task_id, attempt, job_id, state) rows of the run's job store."""
        path = self.folder / "logs" / ".b2core" / "jobs.sqlite"
        if not path.exists():
            return []
        db = sqlite3.connect(str(path), timeout=10)
        try:
            return db.execute("SELECT task_id, attempt, job_id, state FROM jobs").fetchall()
        except sqlite3.Error:
            return []
        finally:
            db.close()

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
        """Poll until predicate() is truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def cleanup(self) -> None:
        """Stop steering processes and every job process the stand-ins still run."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
        for system in ("htcondor", "lsf"):
            for job in self.jobs(system).values():
                run = job.get("_run") or {}
                if run.get("pid") and run.get("state") == "running":
                    with contextlib.suppress(OSError):
                        os.killpg(run["pid"], signal.SIGKILL)
