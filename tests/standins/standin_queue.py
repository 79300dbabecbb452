"""Shared queue mechanics for the batch-system stand-ins (HTCondor, LSF, ...).

The stand-ins are small stdlib-only Python programs that replace the real batch
system commands in tests.  They keep their "scheduler" in a directory on disk
and really run every job as a detached background process.  This module holds
the pieces every stand-in needs.  It must stay stdlib-only and importable with
any python3 (>= 3.8): the stand-in executables run with ``#!/usr/bin/env python3``.

API (stable; other stand-ins import it)
---------------------------------------

State directory
    ``state_dir()`` returns the state directory: ``$B2CORE_STANDIN_DIR`` or
    ``$TMPDIR/b2core-standins`` (``/tmp`` when ``TMPDIR`` is unset); it is created.
    ``system_dir(system)`` returns ``<state dir>/<system>`` (created).

Call log
    ``log_call(tool, argv)`` appends one JSON line ``{"tool", "argv", "time",
    "pid"}`` to ``<state dir>/calls.jsonl``.  Every stand-in calls it first.
    ``read_calls(state=None)`` returns the parsed lines.

Failure injection
    ``should_fail(tool)`` returns True (and consumes one failure) when the next
    invocation of ``tool`` must fail as if the scheduler daemon was unreachable.
    Failures are configured either by ``B2CORE_STANDIN_FAIL_NEXT="tool:n[,tool:n]"``
    (the first n invocations of ``tool`` that see this value fail; the count is kept
    in the state dir, so the variable may stay set) or by
    ``set_fail_next(tool, n)`` which writes ``<state dir>/fail_next.json``.

Locked queue state
    ``with Queue("htcondor") as q:`` takes an exclusive ``fcntl.flock`` on
    ``<state dir>/<system>/queue.lock``, loads ``queue.json`` into ``q.data`` (a
    dict; ``q.jobs`` is ``q.data["jobs"]``, a dict keyed by job id string) and
    writes it back atomically when the block exits without exception.  Keep the
    block short: every command and every job monitor of that system serialises on it.
    ``q.next_id(low, high)`` hands out increasing integer ids; the first one is a
    random number in ``[low, high]`` so tests cannot depend on ids.
    ``read_queue(system)`` returns a snapshot without keeping the lock;
    ``read_job(system, job_id)`` returns one job (or None) without reading the others.

    Two on-disk layouts, same API.  The default keeps everything in ``queue.json``
    (simple to inspect, but every command and job monitor reads and rewrites all jobs,
    so a queue of n jobs costs O(n^2)).  ``Queue(system, per_job=True)`` keeps one
    file per job in ``<system>/jobs/<job id>.json`` and the rest of ``q.data`` in
    ``<system>/meta.json``: ``q.jobs`` then loads a job only when it is used
    (``q.jobs[id]``, ``q.jobs.get(id)``; iterating loads them all) and writes back
    only the jobs that changed.  Once a system has a ``jobs/`` folder, every
    ``Queue(system)`` (and ``read_queue``, ``run_monitor``, ``abandon_all``) uses it.

Creating and running a job
    1. Under the lock, store a job record ``q.jobs[job_id] = {...}`` and call
       ``new_run(job, delay)``; it stores ``job["_run"] = {"token", "state":
       "starting", "delay"}``.
    2. After the lock is released, call ``spawn_monitor(module_file, system,
       job_id)``.  It starts ``<this python> -S <module_file> --standin-monitor
       <system> <job_id>`` (stdlib only, so no site-packages) in a new session
       with stdin/stdout/stderr on /dev/null, so the calling command returns at
       once and does not hold the caller's pipes.
    3. ``<module_file>`` calls ``run_monitor(system, job_id, prepare, on_start,
       on_exec_error, on_exit)`` from its ``__main__`` block when it sees
       ``--standin-monitor`` (see ``monitor_main``).  ``run_monitor`` sleeps the
       run's ``delay``, then, under the lock, calls ``prepare(job)`` which returns a
       ``RunSpec`` (argv, cwd, env, stdout/stderr paths and modes), starts the
       process in its own session (process group id == pid), records
       ``job["_run"]["pid"]`` and ``state = "running"`` and calls ``on_start(job)``.
       If the process cannot be started, ``on_exec_error(job, OSError)`` is called
       instead.  When the process ends, ``on_exit(job, returncode)`` is called under
       the lock, but only if the run is still the current one (same token) and
       still ``running``: commands that kill a job (rm, hold, bkill) change the
       state first, so a killed run does not overwrite their status.
       Optional ``while_running(job, pid)`` (and its ``interval``, default 1 s) is
       called under the lock every interval while the run is current and running:
       schedd-side policies (periodic expressions, resource limits) live there; to
       stop the job it kills the run and changes ``job["_run"]["state"]``; returning
       False means "nothing to watch for this job" and ends the calls.
    ``kill_run(job, signals, grace)`` sends the signals one after the other to the
    run's process group (waiting up to ``grace`` seconds between them) and
    returns True if there was a live process.
    ``abandon_all(state)`` kills every running job of every system in a state
    directory and cancels the pending ones (test teardown).

Helpers
    ``now()``, ``hostname()``, ``username()``, ``atomic_write(path, text)``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import MutableMapping

try:  # pathlib is always there, typing only for annotations
    from pathlib import Path
except ImportError:  # pragma: no cover
    raise

STATE_ENV = "B2CORE_STANDIN_DIR"
FAIL_ENV = "B2CORE_STANDIN_FAIL_NEXT"
MONITOR_FLAG = "--standin-monitor"


# --------------------------------------------------------------------------- paths


def state_dir() -> Path:
    base = os.environ.get(STATE_ENV)
    if not base:
        base = os.path.join(os.environ.get("TMPDIR") or "/tmp", "b2core-standins")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def system_dir(system: str) -> Path:
    path = state_dir() / system
    path.mkdir(parents=True, exist_ok=True)
    return path


def now() -> float:
    return time.time()


def hostname() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


def username() -> str:
    for var in ("USER", "LOGNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except Exception:  # pragma: no cover
        return "nobody"


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:6]}.tmp")
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def file_lock(path: Path):
    """Exclusive flock on ``path`` (created if needed)."""
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# ----------------------------------------------------------------------- call log


def log_call(tool: str, argv: list) -> None:
    line = json.dumps({"tool": tool, "argv": list(argv), "time": now(), "pid": os.getpid()})
    state = state_dir()
    with file_lock(state / "calls.lock"), open(state / "calls.jsonl", "a") as handle:
        handle.write(line + "\n")


def read_calls(state: Path | None = None) -> list:
    path = (state or state_dir()) / "calls.jsonl"
    if not path.exists():
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


# ---------------------------------------------------------------- failure injection


def _parse_fail_spec(spec: str) -> dict:
    result = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        tool, _, count = part.partition(":")
        try:
            result[tool.strip()] = int(count or "1")
        except ValueError:
            result[tool.strip()] = 1
    return result


def set_fail_next(tool: str, count: int = 1, state: Path | None = None) -> None:
    """Make the next ``count`` invocations of ``tool`` fail (file based)."""
    state = state or state_dir()
    path = state / "fail_next.json"
    with file_lock(state / "fail_next.lock"):
        data = json.loads(path.read_text()) if path.exists() else {}
        data[tool] = int(count)
        atomic_write(path, json.dumps(data))


def should_fail(tool: str) -> bool:
    """Consume one injected failure for ``tool`` if there is one."""
    state = state_dir()
    with file_lock(state / "fail_next.lock"):
        path = state / "fail_next.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        if data.get(tool, 0) > 0:
            data[tool] -= 1
            atomic_write(path, json.dumps(data))
            return True
        spec = os.environ.get(FAIL_ENV, "")
        wanted = _parse_fail_spec(spec).get(tool, 0)
        if wanted <= 0:
            return False
        used_path = state / "fail_env_used.json"
        used = json.loads(used_path.read_text()) if used_path.exists() else {}
        key = f"{spec}|{tool}"
        if used.get(key, 0) >= wanted:
            return False
        used[key] = used.get(key, 0) + 1
        atomic_write(used_path, json.dumps(used))
        return True


# ------------------------------------------------------------------- queue state


class JobFiles(MutableMapping):
    """``q.jobs`` of the per-job layout: one JSON file per job, loaded on use, written when changed."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._loaded: dict = {}  # job id -> [job, text as read (None for new jobs)]
        self._deleted: set = set()

    def _path(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.json"

    def __getitem__(self, job_id):
        job_id = str(job_id)
        if job_id in self._deleted:
            raise KeyError(job_id)
        if job_id not in self._loaded:
            try:
                text = self._path(job_id).read_text()
            except (FileNotFoundError, NotADirectoryError):
                raise KeyError(job_id) from None
            self._loaded[job_id] = [json.loads(text), text]
        return self._loaded[job_id][0]

    def __setitem__(self, job_id, job) -> None:
        job_id = str(job_id)
        self._deleted.discard(job_id)
        self._loaded[job_id] = [job, None]

    def __delitem__(self, job_id) -> None:
        job_id = str(job_id)
        if job_id not in self:
            raise KeyError(job_id)
        self._loaded.pop(job_id, None)
        self._deleted.add(job_id)

    def __contains__(self, job_id) -> bool:
        job_id = str(job_id)
        return job_id not in self._deleted and (job_id in self._loaded or self._path(job_id).is_file())

    def _ids(self) -> list:
        names = {p[:-5] for p in os.listdir(self.folder) if p.endswith(".json")} if self.folder.is_dir() else set()
        return sorted((names | set(self._loaded)) - self._deleted)

    def __iter__(self):
        return iter(self._ids())

    def __len__(self) -> int:
        return len(self._ids())

    def flush(self) -> None:
        """Write the jobs that changed (or are new), delete the deleted ones."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for job_id, (job, original) in self._loaded.items():
            text = json.dumps(job, indent=1, sort_keys=True)
            if text != original:
                atomic_write(self._path(job_id), text)
        for job_id in self._deleted:
            with contextlib.suppress(FileNotFoundError):
                self._path(job_id).unlink()


def _per_job_layout(folder: Path) -> bool:
    return (folder / "jobs").is_dir()


class Queue:
    """Locked state of one batch system: one queue.json, or one file per job (see module docstring)."""

    def __init__(self, system: str, per_job: bool | None = None):
        self.system = system
        self.dir = system_dir(system)
        self.per_job = _per_job_layout(self.dir) if per_job is None else per_job
        self.path = self.dir / ("meta.json" if self.per_job else "queue.json")
        self.data: dict = {}
        self._lock = None

    def __enter__(self) -> Queue:
        self._lock = file_lock(self.dir / "queue.lock")
        self._lock.__enter__()
        try:
            self.data = json.loads(self.path.read_text()) if self.path.exists() else {}
        except ValueError:  # pragma: no cover - only after manual tampering
            self.data = {}
        if self.per_job:
            (self.dir / "jobs").mkdir(exist_ok=True)
            self.data["jobs"] = JobFiles(self.dir / "jobs")
        else:
            self.data.setdefault("jobs", {})
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                if self.per_job:
                    jobs = self.data.pop("jobs")
                    jobs.flush()
                    meta = json.dumps(self.data, indent=1, sort_keys=True)
                    if not self.path.exists() or self.path.read_text() != meta:
                        atomic_write(self.path, meta)
                    self.data["jobs"] = jobs
                else:
                    atomic_write(self.path, json.dumps(self.data, indent=1, sort_keys=True))
        finally:
            self._lock.__exit__(exc_type, exc, tb)

    @property
    def jobs(self) -> MutableMapping:
        return self.data["jobs"]

    def next_id(self, low: int, high: int) -> int:
        value = self.data.get("next_id")
        if value is None:
            value = random.randint(low, high)
        self.data["next_id"] = value + 1
        return value


def read_queue(system: str) -> dict:
    """A deep copy of the whole state (every job), taken under the lock."""
    with Queue(system) as q:
        data = {key: value for key, value in q.data.items() if key != "jobs"}
        data["jobs"] = {job_id: q.jobs[job_id] for job_id in q.jobs}
        return json.loads(json.dumps(data))


def read_job(system: str, job_id) -> dict | None:
    """One job's record; in the per-job layout without reading (or locking) the other jobs."""
    folder = system_dir(system)
    if _per_job_layout(folder):
        try:  # files are replaced atomically, so an unlocked read sees a whole record
            return json.loads((folder / "jobs" / f"{job_id}.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
    return read_queue(system)["jobs"].get(str(job_id))


# ------------------------------------------------------------------- running jobs


class RunSpec:
    """What ``prepare`` returns: how to start the job's process."""

    def __init__(
        self,
        argv,
        cwd,
        env,
        stdout=None,
        stderr=None,
        stdout_mode="w",
        stderr_mode="w",
        stderr_to_stdout=False,
        stdin=None,
    ):
        self.argv = [str(a) for a in argv]
        self.cwd = str(cwd)
        self.env = dict(env)
        self.stdout = stdout
        self.stderr = stderr
        self.stdout_mode = stdout_mode
        self.stderr_mode = stderr_mode
        self.stderr_to_stdout = stderr_to_stdout
        self.stdin = stdin


def new_run(job: dict, delay: float = 0.0) -> str:
    token = uuid.uuid4().hex
    job["_run"] = {"token": token, "state": "starting", "delay": float(delay or 0.0)}
    return token


def spawn_monitor(module_file: str, system: str, job_id: str) -> None:
    """Start the detached monitor of one job (see module docstring)."""
    devnull = subprocess.DEVNULL
    subprocess.Popen(
        [sys.executable, "-S", str(module_file), MONITOR_FLAG, system, str(job_id)],
        stdin=devnull,
        stdout=devnull,
        stderr=devnull,
        close_fds=True,
        start_new_session=True,
        cwd="/",
    )


def _open_output(path, mode):
    if path is None:
        return subprocess.DEVNULL
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return open(path, mode + "b")


def run_monitor(system, job_id, prepare, on_start, on_exec_error, on_exit, while_running=None, interval=1.0) -> None:
    job_id = str(job_id)
    job = read_job(system, job_id)
    if not job or "_run" not in job:
        return
    token = job["_run"]["token"]
    deadline = now() + job["_run"].get("delay", 0.0)
    while now() < deadline:  # wait the start delay, but give up as soon as the run is cancelled
        time.sleep(min(0.25, max(0.0, deadline - now())))
        run = (read_job(system, job_id) or {}).get("_run") or {}
        if run.get("token") != token or run.get("state") != "starting":
            return
    with Queue(system) as q:
        job = q.jobs.get(job_id)
        if not job or job["_run"]["token"] != token or job["_run"]["state"] != "starting":
            return
        try:
            spec = prepare(job)
        except Exception as exc:
            if not isinstance(exc, OSError):
                exc = OSError(errno.EIO, str(exc))
            job["_run"]["state"] = "failed"
            on_exec_error(job, exc)
            return
        stdout = _open_output(spec.stdout, spec.stdout_mode)
        stderr = subprocess.STDOUT if spec.stderr_to_stdout else _open_output(spec.stderr, spec.stderr_mode)
        stdin = open(spec.stdin, "rb") if spec.stdin else subprocess.DEVNULL  # noqa: SIM115 (closed below)
        try:
            proc = subprocess.Popen(
                spec.argv,
                cwd=spec.cwd,
                env=spec.env,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            job["_run"]["state"] = "failed"
            on_exec_error(job, exc)
            return
        finally:
            for handle in (stdout, stderr, stdin):
                if hasattr(handle, "close"):
                    handle.close()
        job["_run"]["pid"] = proc.pid
        job["_run"]["state"] = "running"
        job["_run"]["started"] = now()
        on_start(job)
    returncode = _wait(system, job_id, token, proc, while_running, interval)
    with Queue(system) as q:
        job = q.jobs.get(job_id)
        if not job or job["_run"]["token"] != token:
            return
        if job["_run"]["state"] != "running":
            return
        job["_run"]["state"] = "finished"
        job["_run"]["returncode"] = returncode
        on_exit(job, returncode)


def _wait(system, job_id, token, proc, while_running, interval) -> int:
    """Wait for the job's process; every ``interval`` seconds call ``while_running(job, pid)`` under the lock
    (schedd-side policies: periodic expressions, resource limits), as long as the run is the current one."""
    if while_running is None:
        return proc.wait()
    while True:
        try:
            return proc.wait(timeout=interval)
        except subprocess.TimeoutExpired:
            pass
        with Queue(system) as q:
            job = q.jobs.get(job_id)
            run = (job or {}).get("_run") or {}
            current = run.get("token") == token and run.get("state") == "running"
            if current and while_running(job, proc.pid) is False:  # nothing to watch for this job
                while_running = None
        if while_running is None:
            return proc.wait()


def monitor_main(argv, handlers: dict) -> bool:
    """Run the monitor if ``argv`` asks for it; ``handlers`` maps system names to
    ``(prepare, on_start, on_exec_error, on_exit[, while_running[, interval]])``.  Returns True if it ran."""
    if len(argv) >= 4 and argv[1] == MONITOR_FLAG:
        system, job_id = argv[2], argv[3]
        run_monitor(system, job_id, *handlers[system])
        return True
    return False


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def kill_run(job: dict, signals=(signal.SIGKILL,), grace: float = 1.0) -> bool:
    """Signal the process group of the job's current run (see module docstring)."""
    run = job.get("_run") or {}
    pid = run.get("pid")
    if run.get("state") != "running" or not pid:
        return False
    alive = False
    for index, sig in enumerate(signals):
        if not group_alive(pid):
            break
        alive = True
        with contextlib.suppress(OSError):
            os.killpg(pid, sig)
        if index + 1 < len(signals):
            deadline = now() + grace
            while now() < deadline and group_alive(pid):
                time.sleep(0.02)
    return alive


def _abandon(job: dict) -> None:
    run = job.get("_run") or {}
    if run.get("state") == "running":
        kill_run(job, (signal.SIGKILL,), grace=0.0)
    if run.get("state") in ("starting", "running"):
        run["state"] = "abandoned"


def abandon_all(state: Path) -> None:
    """Kill all running jobs and cancel all pending runs in ``state`` (teardown helper)."""
    for system_path in sorted(state.iterdir()) if state.exists() else []:
        if _per_job_layout(system_path):
            with file_lock(system_path / "queue.lock"):
                jobs = JobFiles(system_path / "jobs")
                for job_id in list(jobs):
                    with contextlib.suppress(KeyError, ValueError):
                        _abandon(jobs[job_id])
                jobs.flush()
            continue
        if not (system_path / "queue.json").is_file():
            continue
        with file_lock(system_path / "queue.lock"):
            path = system_path / "queue.json"
            try:
                data = json.loads(path.read_text())
            except ValueError:
                continue
            for job in data.get("jobs", {}).values():
                _abandon(job)
            atomic_write(path, json.dumps(data, indent=1, sort_keys=True))


#: test knob: a file of this name in the state directory makes the next submit command kill its caller (once)
KILL_SUBMITTER = "kill_submitter"


def kill_submitter_once() -> None:
    """After answering: SIGKILL the caller if the test asked, as a steering process dying before its bookkeeping."""
    try:
        os.remove(state_dir() / KILL_SUBMITTER)
    except OSError:
        return
    os.kill(os.getppid(), signal.SIGKILL)
