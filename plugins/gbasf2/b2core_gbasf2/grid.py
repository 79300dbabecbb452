"""Talking to the gbasf2 tools: their environment, the grid proxy, job status and dataset listings.

All grid commands run in the environment the gbasf2 setup script creates, computed once per run
with ``env -i HOME=... bash -c 'source <setup> -g <group> && env -0'`` (gbasf2 brings its own
Python, which must not see ours).
"""

from __future__ import annotations

import getpass
import logging
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from b2core.batch.commands import CommandRunner
from b2core.errors import BatchCommandError, PermanentBatchError, SettingsError

logger = logging.getLogger("b2core.gbasf2")

DEFAULT_GROUP = "belle"
#: how long a successful proxy check is trusted before gb2_proxy_info is asked again
PROXY_RECHECK_SECONDS = 300.0
PASSWORD_ATTEMPTS = 3
#: DIRAC states after which a job will not change any more on its own
FATAL_STATES = frozenset({"Failed", "Killed", "Stalled"})
WAITING_STATES = frozenset({"Received", "Checking", "Staging", "Waiting", "Matched", "Rescheduled"})

_environments: dict[tuple[str, str], dict[str, str]] = {}
_sessions: dict[tuple[str, str], GridSession] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class GridJob:
    """One row of gb2_job_status."""

    job_id: str
    status: str
    minor_status: str = ""
    application_status: str = ""
    site: str = ""

    @property
    def succeeded(self) -> bool:
        """Done with a successful application, the only state that counts as success."""
        return self.status == "Done" and self.application_status == "Done"

    @property
    def failed(self) -> bool:
        """Ended in a fatal state, or Done although the application failed."""
        return self.status in FATAL_STATES or (self.status == "Done" and self.application_status != "Done")

    @property
    def reschedulable(self) -> bool:
        """gb2_job_reschedule only takes jobs in a fatal state (not Done jobs whose application failed)."""
        return self.status in FATAL_STATES

    @property
    def waiting(self) -> bool:
        """Not yet running anywhere."""
        return self.status in WAITING_STATES


def grid_environment(setup_path: str, group: str, runner: CommandRunner | None = None) -> dict[str, str]:
    """The environment after sourcing the gbasf2 setup script in a clean shell; computed once per run."""
    key = (setup_path, group)
    with _lock:
        if key in _environments:
            return dict(_environments[key])
    if not os.path.isfile(setup_path):
        raise SettingsError(
            f"The gbasf2 setup script gbasf2_setup_path = {setup_path!r} does not exist. Install gbasf2 "
            "(or mount /cvmfs) or point gbasf2_setup_path at your gbasf2 bashrc."
        )
    home = os.path.expanduser("~")
    script = f"source {shlex.quote(setup_path)} -g {shlex.quote(group)} > /dev/null && env -0"
    argv = ["env", "-i", f"HOME={home}", "bash", "-c", script]
    result = (runner or CommandRunner()).run(argv, check=False)
    if result.returncode != 0:
        raise PermanentBatchError(argv, result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    environment = {}
    for entry in result.stdout.split("\0"):
        name, sep, value = entry.partition("=")
        if sep and name and "\n" not in name:
            environment[name] = value
    with _lock:
        _environments[key] = environment
    return dict(environment)


def clear_caches() -> None:
    """Forget computed environments and sessions (tests; a new setup script)."""
    with _lock:
        _environments.clear()
        _sessions.clear()


def session_for(setup_path: str, group: str, runner: CommandRunner | None = None) -> GridSession:
    """The run's session for one setup script and group, so the proxy is checked once for all tasks."""
    key = (setup_path, group)
    with _lock:
        if key not in _sessions:
            _sessions[key] = GridSession(setup_path, group, runner or CommandRunner())
        return _sessions[key]


def parse_proxy_info(text: str) -> tuple[int | None, str | None]:
    """(seconds left, DIRAC user name) from gb2_proxy_info's key/value block."""
    seconds = user = None
    match = re.search(r"^\s*timeleft\s*:\s*(\d+):(\d+):(\d+)", text, re.MULTILINE)
    if match:
        hours, minutes, secs = (int(g) for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    match = re.search(r"^\s*username\s*:\s*(\S+)", text, re.MULTILINE)
    if match:
        user = match.group(1)
    return seconds, user


def _column_starts(lines: Sequence[str]) -> list[int]:
    """Starts of the columns of a table whose columns are separated by runs of at least two spaces."""
    width = max(len(line) for line in lines)
    padded = [line.ljust(width) for line in lines]
    blank = [all(line[i] == " " for line in padded) for i in range(width)]
    starts = [0]
    for i in range(2, width):
        if not blank[i] and blank[i - 1] and blank[i - 2]:
            starts.append(i)
    return starts


def parse_job_status(text: str) -> list[GridJob]:
    """The jobs of gb2_job_status's table; an empty list for "0 jobs are selected." (or no project)."""
    lines = text.splitlines()
    match = re.search(r"^\s*(\d+) jobs? (?:are|is) selected", text, re.MULTILINE)
    if match and int(match.group(1)) == 0:
        return []
    rule = next((i for i, line in enumerate(lines) if line.strip() and set(line.strip()) == {"="}), None)
    if rule is None or rule == 0:
        if match:
            raise ValueError(f"gb2_job_status reported jobs but printed no table:\n{text}")
        return []
    header = lines[rule - 1]
    rows = []
    for line in lines[rule + 1 :]:
        if not line.strip():
            break
        rows.append(line)
    if not rows:
        return []
    starts = _column_starts([header, *rows])
    names = [_cell(header, starts, i).lower().replace(" ", "") for i in range(len(starts))]
    index = {name: i for i, name in enumerate(names)}
    needed = {"jobid", "status"}
    if not needed <= set(index):
        raise ValueError(f"gb2_job_status printed an unexpected header {header!r}")
    jobs = []
    for row in rows:

        def get(name: str, row: str = row) -> str:
            return _cell(row, starts, index[name]) if name in index else ""

        jobs.append(GridJob(get("jobid"), get("status"), get("minorstatus"), get("applicationstatus"), get("site")))
    return jobs


def _cell(line: str, starts: list[int], i: int) -> str:
    end = starts[i + 1] if i + 1 < len(starts) else None
    return line[starts[i] : end].strip()


def split_all_extensions(name: str) -> tuple[str, str]:
    """("B_ntuple", ".udst.root") from "B_ntuple.udst.root"."""
    stem, dot, rest = name.partition(".")
    return stem, dot + rest


_V5_NAME = re.compile(r"^(?P<key>.+_job\d+)_(?P<reschedule>\d+)(?P<ext>(?:\.[^./]+)+)$")


def unique_lfns(lfns: Sequence[str]) -> list[str]:
    """Keep only the newest reschedule of each job's output (gbasf2 v5 names end in _job<ID>_<NN>.ext)."""
    best: dict[str, tuple[int, str]] = {}
    for lfn in lfns:
        name = os.path.basename(lfn)
        match = _V5_NAME.match(name)
        key = match.group("key") + match.group("ext") if match else name
        number = int(match.group("reschedule")) if match else 0
        if key not in best or number > best[key][0]:
            best[key] = (number, lfn)
    return sorted(lfn for _, lfn in best.values())


def read_password(prompt: str) -> str | None:
    """The certificate password: asked on the terminal, or read as one line from stdin when that is a pipe."""
    stdin = sys.stdin
    if stdin is None or stdin.closed:
        return None
    if stdin.isatty():
        try:
            return getpass.getpass(prompt)
        except EOFError:
            return None
    print(prompt, end="", file=sys.stderr, flush=True)
    line = stdin.readline()
    print(file=sys.stderr)
    return line.rstrip("\r\n") if line else None


class GridSession:
    """The gbasf2 tools of one setup script and group: environment, proxy, user, and the commands."""

    def __init__(self, setup_path: str, group: str, runner: CommandRunner) -> None:
        self.setup_path = setup_path
        self.group = group
        self.runner = runner
        self.user: str | None = None
        self._proxy_checked_at: float | None = None
        self._proxy_expires_at = 0.0

    # --- commands ----------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The gbasf2 environment (computed once per run)."""
        return grid_environment(self.setup_path, self.group, self.runner)

    def run(
        self, argv: Sequence[str], *, cwd: str | Path | None = None, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run one gbasf2 tool in the gbasf2 environment."""
        return self.runner.run(argv, cwd=str(cwd) if cwd else None, input=input, env=self.env(), check=check)

    def group_options(self) -> list[str]:
        """-g <group> for tools that select jobs, only for non-default groups."""
        return ["-g", self.group] if self.group != DEFAULT_GROUP else []

    # --- the proxy ---------------------------------------------------------------------------------

    def ensure_proxy(self, lifetime_hours: int, min_lifetime_hours: int, force_check: bool = False) -> str:
        """Check the proxy (at most every few minutes) and create a new one when missing or expiring; the user."""
        now = time.monotonic()
        needed = max(min_lifetime_hours * 3600, 0)
        trusted = (
            not force_check
            and self._proxy_checked_at is not None
            and now - self._proxy_checked_at < PROXY_RECHECK_SECONDS
            and self._proxy_expires_at - now > needed
            and self.user
        )
        if trusted:
            return self.user  # type: ignore[return-value]
        seconds, user = self.proxy_info()
        if seconds is None or seconds <= 0 or seconds < needed:
            state = "no proxy" if seconds is None else f"{seconds // 60} minutes left"
            print(
                f"gbasf2: the grid proxy for group {self.group} needs renewal ({state}, at least "
                f"{min_lifetime_hours} hours wanted); running gb2_proxy_init",
                file=sys.stderr,
                flush=True,
            )
            self.init_proxy(lifetime_hours)
            seconds, user = self.proxy_info()
            if seconds is None or seconds <= 0:
                raise PermanentBatchError(
                    ["gb2_proxy_info"], 1, stderr="gb2_proxy_init reported success but there is still no valid proxy"
                )
        if not user:
            raise PermanentBatchError(["gb2_proxy_info"], 1, stderr="gb2_proxy_info printed no username")
        self.user = user
        self._proxy_checked_at = now
        self._proxy_expires_at = now + seconds
        return user

    def proxy_info(self) -> tuple[int | None, str | None]:
        """(seconds left, user) of the current proxy; (None, None) when there is none."""
        argv = ["gb2_proxy_info", *self.group_options()]
        result = self.run(argv, check=False)
        if result.returncode != 0:
            return None, None
        return parse_proxy_info(result.stdout)

    def init_proxy(self, lifetime_hours: int) -> None:
        """gb2_proxy_init with the certificate password from the terminal or stdin; retries a wrong password."""
        argv = ["gb2_proxy_init", "-g", self.group, "-v", f"{lifetime_hours}:00", "--pwstdin"]
        for attempt in range(1, PASSWORD_ATTEMPTS + 1):
            password = read_password(f"Certificate password (grid proxy for group {self.group}): ")
            if password is None:
                raise PermanentBatchError(
                    argv,
                    1,
                    stderr=(
                        "a new grid proxy is needed but no certificate password could be read (no terminal, stdin "
                        f"closed). Run `gb2_proxy_init -g {self.group}` yourself, then start again."
                    ),
                )
            result = self.run(argv, input=password + "\n", check=False)
            output = result.stdout + result.stderr
            if "bad passphrase" in output.lower():
                print(f"gbasf2: wrong certificate password (attempt {attempt} of {PASSWORD_ATTEMPTS})", file=sys.stderr)
                continue
            if result.returncode != 0 or "error" in output.lower():
                raise PermanentBatchError(argv, result.returncode, result.stdout, result.stderr)
            return
        raise PermanentBatchError(argv, 1, stderr=f"wrong certificate password {PASSWORD_ATTEMPTS} times")

    # --- projects and datasets ---------------------------------------------------------------------

    def job_status(self, project: str) -> list[GridJob]:
        """Every (not deleted) job of a project; empty when the project does not exist."""
        result = self.run(["gb2_job_status", "-p", project, *self.group_options()])
        try:
            return parse_job_status(result.stdout)
        except ValueError as error:
            raise BatchCommandError(["gb2_job_status", "-p", project], 0, result.stdout, str(error)) from None

    def list_lfns(self, query: str) -> list[str]:
        """The file LFNs gb2_ds_list shows for an LPN or wildcard query."""
        result = self.run(["gb2_ds_list", query, *self.group_options()])
        return [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("/")]


def output_dataset(project: str, user: str, group: str, lpn_path: str | None) -> str:
    """The LPN of a project's output dataset: the user's folder, or the group's LPN path."""
    if group != DEFAULT_GROUP:
        if not lpn_path:
            raise SettingsError(
                f"gbasf2_proxy_group = {group!r} needs gbasf2_project_lpn_path, the LPN folder of the group's "
                "projects (e.g. /belle/group/<name>/...)."
            )
        return f"{lpn_path.rstrip('/')}/{project}"
    return f"/belle/user/{user}/{project}"
