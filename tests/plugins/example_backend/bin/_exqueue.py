"""The example batch system's queue: a folder of job records shared by exsub, exstat and excancel.

Stdlib only, so the commands run with any python3. Layout of ``$EXAMPLE_QUEUE_DIR``:

* ``jobs/<id>/record.json``: what was submitted (name, queue, script, logs, pid of the job shell);
* ``jobs/<id>/exit_code``: written by the job shell when the script ends;
* ``jobs/<id>/cancelled`` or ``jobs/<id>/killed``: markers set by excancel or by a kill order;
* ``calls.jsonl``: one line per command invocation (tool, time, number of job ids), for tests;
* ``fail_next.json``: ``{"exstat": 2}`` makes the next two exstat calls fail transiently;
* ``kill_next``: a count; exstat kills that many running jobs (as an admin would) before answering;
* ``kill_submitter``: exsub kills its caller right after submitting (once).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KNOWN_QUEUES = ("default", "short")
TRANSIENT_EXIT = 75
PERMANENT_EXIT = 2


def queue_dir() -> Path:
    """The queue folder, from EXAMPLE_QUEUE_DIR (created)."""
    folder = Path(os.environ.get("EXAMPLE_QUEUE_DIR") or Path(tempfile.gettempdir()) / "b2core-example-queue")
    (folder / "jobs").mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def locked():
    """Serialise every command that changes the queue."""
    with open(queue_dir() / "queue.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def log_call(tool: str, n_ids: int) -> None:
    """Append one line per invocation, so tests can count calls."""
    line = json.dumps({"tool": tool, "time": time.time(), "n_ids": n_ids, "pid": os.getpid()}) + "\n"
    fd = os.open(queue_dir() / "calls.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def consume_failure(tool: str) -> bool:
    """True (and one failure used up) when this invocation must fail transiently."""
    path = queue_dir() / "fail_next.json"
    with locked():
        try:
            orders = json.loads(path.read_text())
        except (OSError, ValueError):
            return False
        if orders.get(tool, 0) <= 0:
            return False
        orders[tool] -= 1
        write_atomically(path, json.dumps(orders))
        return True


def fail_transiently(tool: str) -> None:
    """Exit like a command whose scheduler daemon did not answer."""
    print(f"{tool}: error: cannot reach the example queue daemon (connection timed out), try again", file=sys.stderr)
    sys.exit(TRANSIENT_EXIT)


def write_atomically(path: Path, text: str) -> None:
    """Write a file so readers never see half of it."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text)
    os.replace(temporary, path)


def job_dir(job_id: str) -> Path:
    """The folder of one job."""
    return queue_dir() / "jobs" / job_id


def read_record(job_id: str) -> dict | None:
    """A job's record, or None for ids this queue never handed out."""
    try:
        return json.loads((job_dir(job_id) / "record.json").read_text())
    except (OSError, ValueError):
        return None


def all_job_ids() -> list[str]:
    """Every job id, oldest first."""
    return sorted((p.name for p in (queue_dir() / "jobs").iterdir()), key=int)


def next_id() -> str:
    """A new job id (caller holds the lock)."""
    path = queue_dir() / "next_id"
    try:
        value = int(path.read_text())
    except (OSError, ValueError):
        value = 1000
    write_atomically(path, str(value + 1))
    return str(value)


JOB_SHELL = 'cd "$1" || exit 97; "$2" >"$3" 2>"$4"; c=$?; echo $c >"$5.tmp" && mv "$5.tmp" "$5"'


def start(job: dict) -> int:
    """Run a job script detached from the command that submitted it; returns the job shell's pid."""
    folder = job_dir(job["id"])
    with open(os.devnull, "rb") as stdin:
        process = subprocess.Popen(
            [
                "/bin/sh",
                "-c",
                JOB_SHELL,
                "exjob",
                job["cwd"],
                job["script"],
                job["stdout"],
                job["stderr"],
                str(folder / "exit_code"),
            ],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    return process.pid


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill(record: dict) -> None:
    """Kill a job's whole process group at once."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(record["pid"], signal.SIGKILL)


def state(job_id: str) -> tuple[str, str]:
    """(STATE, exit code or '-') of one job, as exstat prints it."""
    folder = job_dir(job_id)
    record = read_record(job_id)
    if record is None:
        return "UNKNOWN", "-"
    if (folder / "cancelled").exists():
        return "CANCELLED", "-"
    if (folder / "killed").exists():
        return "KILLED", "-"
    exit_file = folder / "exit_code"
    if exit_file.exists():
        code = exit_file.read_text().strip() or "1"
        return ("DONE" if code == "0" else "FAILED"), code
    if record.get("pid") is None:
        return "PENDING", "-"
    if alive(record["pid"]):
        return "RUNNING", "-"
    return "KILLED", "-"
