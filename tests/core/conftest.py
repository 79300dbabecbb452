"""Fixtures for the core's tests: in-process folders, steering scripts run through their real command line, and the
example third-party plugin (tests/plugins/example_backend), pip-installed once, with its queue per test."""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import shutil
import signal
import site
import sqlite3
import subprocess
import sys
import sysconfig
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

FAST_POLLING = {
    "B2CORE_POLL_INTERVAL": "0.2",
    "B2CORE_SUBMIT_INTERVAL": "0.1",
    "B2CORE_BATCH_COMMAND_RETRY_WAIT": "0.05",
}


@pytest.fixture(autouse=True)
def in_process_folders(clean_settings: None, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """Point in-process tasks at tmp_path: relative folders would otherwise start at pytest's own script folder."""
    import b2core

    folders = tmp_path / "inproc"
    if "scheduling" in request.node.path.parts:  # another team's tests, with their own set-up
        yield folders
        return
    b2core.set_setting("result_dir", str(folders / "results"))
    b2core.set_setting("log_dir", str(folders / "logs"))
    b2core.set_setting("task_file_dir", str(folders / "task_files"))
    yield folders


def _default_sigint() -> None:
    """Background runs must react to SIGINT like a terminal's Ctrl-C, even if our shell ignored it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Run:
    """A finished run of a steering script; its repr shows everything, for assertion messages."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together."""
        return self.stdout + self.stderr

    def __repr__(self) -> str:
        return f"\n--- exit code {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass
class Workflow:
    """A folder holding steering scripts, run with this interpreter through their real command line."""

    path: Path
    env: dict[str, str] = field(default_factory=dict)
    started: list[subprocess.Popen] = field(default_factory=list)

    def write(self, source: str, name: str = "steering.py") -> Path:
        """Write a steering script (dedented) and return its path."""
        script = self.path / name
        script.write_text(textwrap.dedent(source).lstrip())
        return script

    def write_json(self, name: str, text: str) -> Path:
        """Write a JSON (or any text) file next to the scripts."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a run: this process's (already cleaned of B2CORE_ settings) plus fast polling."""
        env = dict(os.environ)
        env.update(FAST_POLLING)
        env.update(self.env)
        env.update(extra or {})
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def run(
        self,
        *flags: str,
        script: str = "steering.py",
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> Run:
        """Run a script to its end and return exit code and output."""
        return self.command([sys.executable, str(self.path / script), *flags], input=input, env=env, timeout=timeout)

    def command(
        self, argv: list[str], input: str | None = None, env: dict[str, str] | None = None, timeout: float = 120
    ) -> Run:
        """Run any command in the workflow folder with the workflow's environment."""
        result = subprocess.run(
            argv,
            cwd=self.path,
            env=self.environment(env),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Run(result.returncode, result.stdout, result.stderr)

    def start(self, *flags: str, script: str = "steering.py", env: dict[str, str] | None = None) -> subprocess.Popen:
        """Start a script in the background (output into run.log), for tests that signal it."""
        with open(self.path / "run.log", "a") as log:
            process = subprocess.Popen(
                [sys.executable, str(self.path / script), *flags],
                cwd=self.path,
                env=self.environment(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_default_sigint,
            )
        self.started.append(process)
        return process

    def log(self) -> str:
        """What background runs printed."""
        path = self.path / "run.log"
        return path.read_text() if path.exists() else ""

    def files(self, under: str = ".") -> set[str]:
        """Relative paths of every file below a folder of the workflow."""
        base = self.path / under
        return {str(p.relative_to(self.path)) for p in base.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture
def workflow(tmp_path: Path) -> Iterator[Workflow]:
    """A scratch folder for steering scripts (cwd of every run); background runs are stopped afterwards."""
    folder = tmp_path / "wf"
    folder.mkdir()
    flow = Workflow(folder)
    yield flow
    for process in flow.started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugins" / "example_backend"
PLUGIN_BIN = PLUGIN_DIR / "bin"
DISTRIBUTION = "b2core-example-backend"


def _installed_from_here() -> bool:
    """Whether the example plugin is installed (editable) from this checkout."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    direct_url = dist.read_text("direct_url.json")
    return bool(direct_url) and json.loads(direct_url).get("url", "").rstrip("/").endswith(str(PLUGIN_DIR))


@pytest.fixture(scope="session")
def example_backend() -> Path:
    """Install the example plugin into the running venv with pip (kept installed; a second run reuses it).

    Under pytest-xdist every worker asks at once: a lock in the venv lets one of them install, so no
    worker's pip rewrites the editable install while another worker's tests import it."""
    with open(Path(sys.prefix) / ".b2core-example-backend.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _installed_from_here():
            result = subprocess.run(
                [sys.executable, "-m", "pip", "install", "-q", "-e", str(PLUGIN_DIR)],
                capture_output=True,
                text=True,
                timeout=600,
            )
            if result.returncode != 0 and not _installed_from_here():
                pytest.fail(f"pip could not install {PLUGIN_DIR}:\n{result.stdout}\n{result.stderr}")
    # Make the editable install importable in this process too (its .pth file is read at start-up only).
    site.addsitedir(sysconfig.get_paths()["purelib"])
    importlib.invalidate_caches()
    return PLUGIN_DIR


class Queue:
    """The example batch system's queue folder: call log, job records, failure and kill orders."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        (folder / "jobs").mkdir(parents=True, exist_ok=True)

    def calls(self, tool: str | None = None) -> list[dict]:
        """Every logged command invocation (optionally of one tool), oldest first."""
        path = self.folder / "calls.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        calls = [json.loads(line) for line in lines if line.strip()]
        return [c for c in calls if tool is None or c["tool"] == tool]

    def jobs(self) -> list[dict]:
        """Every job record ever submitted."""
        records = []
        for folder in sorted((self.folder / "jobs").iterdir(), key=lambda p: int(p.name)):
            try:
                records.append(json.loads((folder / "record.json").read_text()))
            except (OSError, ValueError):
                continue
        return records

    def submissions_per_task(self) -> Counter[str]:
        """How often each task id was submitted."""
        return Counter(job["name"] for job in self.jobs())

    def state(self, job_id: str) -> str:
        """The state exstat would print, read without logging a call."""
        folder = self.folder / "jobs" / job_id
        if (folder / "cancelled").exists():
            return "CANCELLED"
        if (folder / "exit_code").exists():
            return "EXITED"
        pid = json.loads((folder / "record.json").read_text()).get("pid")
        return "RUNNING" if pid and _alive(pid) else "GONE"

    def fail_next(self, **counts: int) -> None:
        """Make the next invocations of the named tools fail transiently."""
        (self.folder / "fail_next.json").write_text(json.dumps(counts))

    def kill_next(self, count: int) -> None:
        """Have exstat kill that many running jobs (as an administrator would)."""
        (self.folder / "kill_next").write_text(str(count))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def plugin_bin() -> Path:
    """The folder of the example batch system's commands (exsub, exstat, excancel)."""
    return PLUGIN_BIN


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[Queue]:
    """A fresh queue of the example batch system; jobs still running afterwards are killed."""
    jobs = Queue(tmp_path / "queue")
    yield jobs
    for job in jobs.jobs():
        if job.get("pid") and jobs.state(job["id"]) == "RUNNING":
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job["pid"], signal.SIGKILL)


@pytest.fixture
def example(workflow, queue: Queue, example_backend: Path):
    """A workflow folder whose runs see the example batch system's commands and queue."""
    workflow.env.update(
        {
            "EXAMPLE_QUEUE_DIR": str(queue.folder),
            "PATH": f"{PLUGIN_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return workflow


def wait_for(condition: Callable[[], object], timeout: float = 60, what: str = "condition") -> object:
    """Poll until condition() is truthy; fail the test with `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def no_batch_commands(tmp_path: Path) -> str:
    """A PATH on which no batch system answers (Slurm may be installed here): only the tools jobs need."""
    folder = tmp_path / "bare-bin"
    folder.mkdir()
    for tool in ("bash", "sh", "env", "mv", "cat", "rm", "mkdir", "sleep", "dirname"):
        found = shutil.which(tool)
        if found:
            (folder / tool).symlink_to(found)
    return str(folder)


@pytest.fixture
def wait() -> Callable[..., object]:
    """The wait_for helper, for tests."""
    return wait_for


LOCAL_STEERING = """
import os
import random
import time
import b2core as b2luigi


class Writer(b2luigi.Task):
    number = b2luigi.IntParameter()
    batch_system = "local"

    def output(self):
        yield self.add_to_output("value.txt")

    def complete(self):
        done = super().complete()
        if done and os.environ.get("BREAK") == str(self.number):
            raise RuntimeError(f"complete() of writer {self.number} is broken")
        return done

    def run(self):
        with open(os.environ["RUNS"], "a") as runs:
            runs.write(f"{self.number} {os.getpid()}\\n")
        time.sleep(float(os.environ.get(f"SLEEP_{self.number}", os.environ.get("SLEEP", "0"))))
        with open(self.get_output_file_name("value.txt"), "w") as f:
            f.write(str(random.randrange(10**9)))


class Sum(b2luigi.Task):
    batch_system = "local"

    def requires(self):
        for number in range(int(os.environ.get("COUNT", "3"))):
            yield Writer(number=number)

    def output(self):
        yield self.add_to_output("sum.txt")

    def run(self):
        total = sum(int(open(path).read()) for path in self.get_input_file_names("value.txt"))
        with open(self.get_output_file_name("sum.txt"), "w") as f:
            f.write(str(total))


if __name__ == "__main__":
    b2luigi.process(Sum(), workers=4, batch="NO_BATCH" not in os.environ)
"""


@dataclass
class LocalFlow:
    """A workflow of COUNT Writer tasks and their Sum on the local backend; each run() logs `number pid` to RUNS."""

    flow: Any
    runs: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a run, with RUNS and any SLEEP/SLEEP_<number>/COUNT/BREAK/NO_BATCH given."""
        return {"RUNS": str(self.runs), **extra}

    def start_and_kill(self, env: dict[str, str]) -> None:
        """Start a run, wait until every writer's run() started, then SIGKILL the steering process."""
        process = self.flow.start(env=env)
        wait_for(lambda: len(self.started()) == 3, what="three writer jobs to start")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def started(self) -> list[tuple[int, int]]:
        """(number, pid) of every run() started so far."""
        lines = self.runs.read_text().splitlines() if self.runs.exists() else []
        return [(int(n), int(p)) for n, p in (line.split() for line in lines if line.strip())]

    def runs_per_task(self) -> Counter[int]:
        """How often each writer's run() started."""
        return Counter(number for number, _ in self.started())

    def values(self) -> dict[int, int]:
        """Each writer's output value."""
        return {int(p.parent.name.split("=")[1]): int(p.read_text()) for p in self.flow.path.glob("number=*/value.txt")}

    def total(self) -> int | None:
        """The Sum task's output, if written."""
        path = self.flow.path / "sum.txt"
        return int(path.read_text()) if path.exists() else None

    def store(self) -> Path:
        """The job store of the workflow."""
        return self.flow.path / "logs" / ".b2core" / "jobs.sqlite"

    def sql(self, statement: str, *args: Any) -> list[tuple]:
        """Run SQL on the job store (as a corrupting user or a crash would leave it)."""
        with sqlite3.connect(self.store(), timeout=30) as db:
            return db.execute(statement, args).fetchall()

    def alive(self) -> list[int]:
        """Pids of started run()s that still live."""
        return [pid for _, pid in self.started() if _alive(pid)]

    def kill_jobs(self) -> None:
        """SIGKILL the whole session of every running job (what a reboot or an administrator does)."""
        for pid in self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)


@pytest.fixture
def local_flow(workflow) -> Iterator[LocalFlow]:
    """The Writer/Sum workflow on the local backend; jobs still running afterwards are killed."""
    workflow.write(LOCAL_STEERING)
    flow = LocalFlow(workflow, workflow.path / "runs.log")
    yield flow
    flow.kill_jobs()
