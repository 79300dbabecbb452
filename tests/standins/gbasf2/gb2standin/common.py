"""Shared state handling for the gbasf2 stand-ins.

Everything the stand-in "grid" knows lives below ``$B2CORE_STANDIN_DIR/gbasf2``
(default ``$TMPDIR/b2core-standins/gbasf2``)::

    calls.jsonl                  one JSON line per stand-in invocation (shared with other stand-ins)
    gbasf2/.lock                 fcntl lock guarding every read-modify-write below
    gbasf2/config.json           knobs (see ``CONFIG_KEYS``); environment variables win over it
    gbasf2/proxy.json            the current "proxy" (absent: no proxy)
    gbasf2/counters.json         next DIRAC job id
    gbasf2/projects/<name>.json  one project with its jobs
    gbasf2/projects/<name>/input_sandbox/   files shipped with ``-f`` and the steering file
    gbasf2/sandboxes/<jobid>/r<NN>/         working directory of attempt NN of a job
    gbasf2/grid/<LFN>            the stand-in storage element: grid files mirrored at their LFN

Only the standard library is used, so the executables run with any ``python3``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import getpass
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: knob name -> (environment variable, default)
CONFIG_KEYS: dict[str, tuple[str, Any]] = {
    "user": ("B2CORE_GBASF2_USER", None),
    "fail_jobs": ("B2CORE_GBASF2_FAIL_JOBS", ""),
    "default_nfiles": ("B2CORE_GBASF2_DEFAULT_NFILES", 3),
    "wait_seconds": ("B2CORE_GBASF2_WAIT_SECONDS", 0.2),
    "run_seconds": ("B2CORE_GBASF2_RUN_SECONDS", 0.0),
    "proxy_seconds": ("B2CORE_GBASF2_PROXY_SECONDS", None),
    "cert_password": ("B2CORE_GBASF2_CERT_PASSWORD", None),
    "lfn_style": ("B2CORE_GBASF2_LFN_STYLE", "v5"),
    "download_fail": ("B2CORE_GBASF2_DOWNLOAD_FAIL", ""),
    "keep_failed_output": ("B2CORE_GBASF2_KEEP_FAILED_OUTPUT", "0"),
    "allow_project_reuse": ("B2CORE_GBASF2_ALLOW_PROJECT_REUSE", "0"),
    "job_timeout": ("B2CORE_GBASF2_JOB_TIMEOUT", 600),
}

FINAL_STATES = {"Done", "Failed", "Killed", "Deleted", "Stalled"}
FATAL_STATES = {"Failed", "Killed", "Stalled"}
ACTIVE_STATES = {"Received", "Checking", "Waiting", "Matched", "Running", "Completing"}

SITES = ["LCG.KEK2.jp", "OSG.BNL.us", "LCG.DESY.de", "LCG.Pisa.it", "LCG.Napoli.it"]
PROJECT_NAME_RE = re.compile(r"^[a-zA-Z0-9+_-]+$")
MAX_PROJECT_NAME = 32

PACKAGE_DIR = Path(__file__).resolve().parent
STANDIN_ROOT = PACKAGE_DIR.parent  # tests/standins/gbasf2
BASF2_PYTHON_DIR = STANDIN_ROOT.parent / "basf2" / "python"  # the stand-in basf2 shared with b2core-basf2
BIN_DIR = STANDIN_ROOT / "bin"

try:  # the shared helper of the stand-ins (call log, state dir), owned by the batch stand-ins
    sys.path.insert(0, str(STANDIN_ROOT.parent))
    import standin_queue
except ImportError:  # pragma: no cover - keep working without it
    standin_queue = None
finally:
    sys.path.pop(0)


# --------------------------------------------------------------------------- paths and config


def standin_dir() -> Path:
    """``$B2CORE_STANDIN_DIR``, else ``$TMPDIR/b2core-standins`` (``/tmp`` without TMPDIR), as ``standin_queue``."""
    if standin_queue is not None:
        return standin_queue.state_dir()
    base = os.environ.get("B2CORE_STANDIN_DIR") or os.path.join(os.environ.get("TMPDIR") or "/tmp", "b2core-standins")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def state_dir() -> Path:
    path = standin_dir() / "gbasf2"
    path.mkdir(parents=True, exist_ok=True)
    return path


def grid_root() -> Path:
    return state_dir() / "grid"


def lfn_to_path(lfn: str) -> Path:
    return grid_root() / lfn.lstrip("/")


def path_to_lfn(path: Path) -> str:
    return "/" + str(Path(path).relative_to(grid_root()))


def read_json(path: Path, default: Any = None) -> Any:
    try:
        with open(path, encoding="utf-8") as fobj:
            return json.load(fobj)
    except FileNotFoundError:
        return default


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fobj:
        json.dump(data, fobj, indent=1, sort_keys=True)
    os.replace(tmp, path)


def config_file() -> Path:
    return state_dir() / "config.json"


def get_config(key: str) -> Any:
    env_name, default = CONFIG_KEYS[key]
    if env_name in os.environ:
        return os.environ[env_name]
    stored = read_json(config_file(), {}) or {}
    if key in stored:
        return stored[key]
    return default


def get_float(key: str) -> float:
    return float(get_config(key))


def get_bool(key: str) -> bool:
    return str(get_config(key)).strip().lower() in {"1", "true", "yes", "on"}


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Serialise all state mutations with one lock file."""
    lock_path = state_dir() / ".lock"
    with open(lock_path, "a+") as fobj:
        fcntl.flock(fobj, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fobj, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- call log


def log_call(tool: str, argv: list[str]) -> None:
    """Append ``{"tool", "argv", "time", "pid"}`` to ``calls.jsonl`` (the shared stand-in call log).

    Uses ``tests/standins/standin_queue.py`` (shared with the batch-system stand-ins) when it is
    importable and writes the same format itself otherwise.
    """
    full_argv = [tool, *argv]
    if standin_queue is not None:
        standin_queue.log_call(tool, full_argv)
        return
    root = standin_dir()
    line = json.dumps({"tool": tool, "argv": full_argv, "time": time.time(), "pid": os.getpid()})
    lock_fd = os.open(str(root / "calls.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        with open(root / "calls.jsonl", "a", encoding="utf-8") as fobj:
            fobj.write(line + "\n")
    finally:
        os.close(lock_fd)


# --------------------------------------------------------------------------- time helpers


def utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def fmt_time(value: _dt.datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def parse_time(value: str) -> _dt.datetime:
    return _dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_dt.timezone.utc)


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


# --------------------------------------------------------------------------- proxy


def default_user() -> str:
    user = get_config("user")
    if user:
        return str(user)
    try:
        name = getpass.getuser()
    except Exception:  # pragma: no cover - no passwd entry
        name = "b2user"
    return re.sub(r"[^a-zA-Z0-9_-]", "", name) or "b2user"


def proxy_file_path() -> Path:
    return state_dir() / f"x509up_u{os.getuid()}"


def proxy_seconds_left() -> int | None:
    """Seconds the current proxy is still valid; ``None`` when there is no proxy at all."""
    override = get_config("proxy_seconds")
    if override is not None and str(override).strip() != "":
        text = str(override).strip().lower()
        if text in {"none", "no", "absent", "-"}:
            return None
        return max(0, int(float(text)))
    proxy = read_json(state_dir() / "proxy.json")
    if not proxy:
        return None
    return max(0, int(proxy["expires"] - time.time()))


def current_proxy() -> dict[str, Any] | None:
    """The proxy record (creating a synthetic one when only the override knob is set)."""
    left = proxy_seconds_left()
    if left is None:
        return None
    proxy = read_json(state_dir() / "proxy.json") or {
        "user": default_user(),
        "group": "belle",
        "created": time.time(),
    }
    proxy = dict(proxy)
    proxy["seconds_left"] = left
    return proxy


def dn_for(user: str) -> str:
    return f"/DC=org/DC=b2core/OU=Standin/CN={user}/CN=000001/CN=B2core Standin User"


def require_proxy(tool: str) -> dict[str, Any] | None:
    """Return the proxy or print the (guessed) no-proxy error, as every gb2 tool checks it."""
    proxy = current_proxy()
    if proxy is None or proxy["seconds_left"] <= 0:
        print(
            "Error: Proxy not found or expired. Please run gb2_proxy_init -g belle to create a proxy.",
            file=sys.stdout,
        )
        return None
    return proxy


# --------------------------------------------------------------------------- projects and jobs


def projects_dir() -> Path:
    path = state_dir() / "projects"
    path.mkdir(parents=True, exist_ok=True)
    return path


def project_file(name: str) -> Path:
    return projects_dir() / f"{name}.json"


def load_project(name: str) -> dict[str, Any] | None:
    return read_json(project_file(name))


def save_project(project: dict[str, Any]) -> None:
    write_json(project_file(project["name"]), project)


def all_projects() -> list[dict[str, Any]]:
    result = []
    for path in sorted(projects_dir().glob("*.json")):
        data = read_json(path)
        if data:
            result.append(data)
    return result


def next_job_ids(count: int) -> list[int]:
    counters_path = state_dir() / "counters.json"
    counters = read_json(counters_path, {}) or {}
    first = int(counters.get("next_jobid", 400000001))
    counters["next_jobid"] = first + count
    write_json(counters_path, counters)
    return list(range(first, first + count))


def update_job(project_name: str, jobid: str, **changes: Any) -> dict[str, Any] | None:
    """Atomically update one job of a project; returns the updated job."""
    with locked():
        project = load_project(project_name)
        if not project or jobid not in project["jobs"]:
            return None
        job = project["jobs"][jobid]
        job.update(changes)
        job["LastUpdateTime"] = fmt_time(utcnow())
        save_project(project)
        return dict(job)


def parse_fail_spec(spec: str) -> list[tuple[str, str, int, str]]:
    """Parse ``project:jobindex:times[:mode]`` entries (comma or newline separated)."""
    entries = []
    for raw in re.split(r"[,\n;]", spec or ""):
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            continue
        parts = raw.split(":")
        if len(parts) < 2:
            continue
        project, index = parts[0].strip(), parts[1].strip()
        times = int(parts[2]) if len(parts) > 2 and parts[2].strip() else 1
        mode = parts[3].strip() if len(parts) > 3 and parts[3].strip() else "failed"
        entries.append((project, index, times, mode))
    return entries


def injected_failure(project_name: str, job_index: int, attempt: int) -> str | None:
    """Return the failure mode if attempt ``attempt`` (1-based) of this job is told to fail."""
    for project, index, times, mode in parse_fail_spec(str(get_config("fail_jobs") or "")):
        if project not in {"*", project_name}:
            continue
        if index not in {"*", str(job_index)}:
            continue
        if times < 0 or attempt <= times:
            return mode
    return None


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    return True
