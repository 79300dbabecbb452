"""Test controls for the gbasf2 stand-in (not a real gbasf2 tool).

Used from Python (``import gb2standin.control``) or through the executable
``bin/b2core-gb2-standin``. Every knob is stored in ``config.json`` of the state
directory, so it also reaches tools started with a cleaned environment
(``env -i ... source bashrc``), where environment variables would be lost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

from . import common


def set_config(**values: Any) -> None:
    """Set (value not None) or remove (value None) knobs, e.g. ``set_config(fail_jobs="p:0:1")``."""
    for key in values:
        if key not in common.CONFIG_KEYS:
            raise KeyError(f"unknown stand-in knob {key!r}; known: {sorted(common.CONFIG_KEYS)}")
    with common.locked():
        config = common.read_json(common.config_file(), {}) or {}
        for key, value in values.items():
            if value is None:
                config.pop(key, None)
            else:
                config[key] = value
        common.write_json(common.config_file(), config)


def set_proxy(seconds: float | None, user: str | None = None, group: str = "belle") -> None:
    """Create a proxy valid for ``seconds`` (0: expired) or remove it (``None``)."""
    path = common.state_dir() / "proxy.json"
    with common.locked():
        if seconds is None:
            path.unlink(missing_ok=True)
            common.proxy_file_path().unlink(missing_ok=True)
            return
        now = time.time()
        common.write_json(
            path,
            {"user": user or common.default_user(), "group": group, "created": now, "expires": now + seconds},
        )


def reset() -> None:
    """Forget every project, grid file, proxy and knob (keeps calls.jsonl)."""
    stop_all_jobs()
    path = common.state_dir()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def project(name: str) -> dict | None:
    return common.load_project(name)


def jobs(name: str) -> dict[str, dict]:
    data = common.load_project(name)
    return data["jobs"] if data else {}


def wait_for_project(name: str, timeout: float = 30.0, poll: float = 0.05) -> dict:
    """Block until no job of the project is Waiting/Running; returns the project."""
    deadline = time.time() + timeout
    while True:
        data = common.load_project(name)
        if data and all(job["Status"] not in common.ACTIVE_STATES for job in data["jobs"].values()):
            return data
        if time.time() > deadline:
            raise TimeoutError(f"project {name} still has active jobs: {data and data['jobs']}")
        time.sleep(poll)


def stop_all_jobs() -> None:
    """Terminate background runners still alive (only the ones this stand-in started)."""
    for data in common.all_projects():
        for job in data["jobs"].values():
            if job["Status"] not in common.ACTIVE_STATES:
                continue
            for key in ("Pid", "RunnerPid"):
                pid = job.get(key)
                if pid and common.pid_alive(pid):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGTERM)


def standin_env(base: dict[str, str] | None = None, state: str | os.PathLike | None = None) -> dict[str, str]:
    """An environment with the stand-in tools first on PATH and the state dir set."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(common.BIN_DIR), env.get("PATH", os.defpath)])
    if state is not None:
        env["B2CORE_STANDIN_DIR"] = str(state)
    return env


def write_setup_script(dest: str | os.PathLike, state: str | os.PathLike | None = None) -> Path:
    """Write a gbasf2-like setup script (like ``/cvmfs/.../gbasf2/pro/bashrc``) with a fixed state dir.

    Tools run after ``env -i HOME=... bash -c 'source <dest> -g belle && ...'`` then share the
    state of the caller although the environment was cleaned.
    """
    dest = Path(dest)
    state_path = Path(state) if state is not None else common.standin_dir()
    dest.write_text(
        "# b2core gbasf2 stand-in setup script (generated)\n"
        f'export B2CORE_STANDIN_DIR="${{B2CORE_STANDIN_DIR:-{state_path}}}"\n'
        f'source "{common.STANDIN_ROOT / "bashrc"}" "$@"\n',
        encoding="utf-8",
    )
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="b2core-gb2-standin", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("dir", help="print the state directory")
    sub.add_parser("reset", help="forget all stand-in grid state")
    p_cfg = sub.add_parser("config", help="set a knob (no value: remove it)")
    p_cfg.add_argument("key", choices=sorted(common.CONFIG_KEYS))
    p_cfg.add_argument("value", nargs="?")
    p_proxy = sub.add_parser("proxy", help="set the proxy lifetime")
    group = p_proxy.add_mutually_exclusive_group(required=True)
    group.add_argument("--seconds", type=float)
    group.add_argument("--hours", type=float)
    group.add_argument("--none", action="store_true", help="remove the proxy")
    p_proxy.add_argument("--user")
    p_proxy.add_argument("--group", default="belle")
    p_fail = sub.add_parser("fail-jobs", help="project:jobindex:times[:mode],... ('' clears)")
    p_fail.add_argument("spec")
    p_wait = sub.add_parser("wait", help="wait until a project has no active jobs")
    p_wait.add_argument("project")
    p_wait.add_argument("--timeout", type=float, default=60.0)
    p_jobs = sub.add_parser("jobs", help="print a project's jobs as JSON")
    p_jobs.add_argument("project")
    p_setup = sub.add_parser("setup-script", help="write a bashrc bound to the current state dir")
    p_setup.add_argument("dest")
    args = parser.parse_args(argv)
    common.log_call("b2core-gb2-standin", list(argv if argv is not None else sys.argv[1:]))

    if args.cmd == "dir":
        print(common.state_dir())
    elif args.cmd == "reset":
        reset()
    elif args.cmd == "config":
        set_config(**{args.key: args.value})
    elif args.cmd == "proxy":
        seconds = None if args.none else (args.seconds if args.seconds is not None else args.hours * 3600)
        set_proxy(seconds, user=args.user, group=args.group)
    elif args.cmd == "fail-jobs":
        set_config(fail_jobs=args.spec or None)
    elif args.cmd == "wait":
        wait_for_project(args.project, timeout=args.timeout)
    elif args.cmd == "jobs":
        print(json.dumps(jobs(args.project), indent=1, sort_keys=True))
    elif args.cmd == "setup-script":
        print(write_setup_script(args.dest))
    return 0
