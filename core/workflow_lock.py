"""One steering process per workflow: an flock on <log_dir>/.b2core/steering.lock plus a record of who holds it.

A second steering process on the same job store stops at once, naming the holder, and never submits.
Runs that share a central scheduler take the lock in shared mode: the scheduler's grant is what keeps
them from running a task twice, the lock only keeps an exclusive run out. The kernel drops an flock
when its process dies, so a lock left by a killed run is taken over; its stale record only earns a warning.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from b2core.errors import WorkflowLockedError, WorkflowStateError
from b2core.paths import workflow_state_dir
from b2core.processes import process_start_time

logger = logging.getLogger("b2core")
LOCK_FILE = "steering.lock"
HOLDERS_DIR = "steering"
_held_fds: set[int] = set()


@dataclass(frozen=True)
class Holder:
    """A steering process that holds (or held) the lock."""

    pid: int
    host: str
    since: float
    started: int | None
    shared: bool

    @property
    def name(self) -> str:
        """The record's file name: one per process and host."""
        return f"{self.host}.{self.pid}.json"

    def describe(self) -> str:
        """`pid 123 on host h since 2026-01-01 12:00:00 UTC (shared)` for messages."""
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        mode = " (shared, central scheduler)" if self.shared else ""
        return f"pid {self.pid} on host {self.host} since {since}{mode}"

    def is_dead_here(self) -> bool:
        """True when the holder ran on this host and is gone (its pid ended or now belongs to another process)."""
        return self.host == socket.gethostname() and process_start_time(self.pid) != self.started


@contextlib.contextmanager
def workflow_lock(log_dir: Path | str, shared: bool = False) -> Iterator[Holder]:
    """Hold the workflow lock of a log folder for a block; raises WorkflowLockedError if another run holds it.

    shared=True is for steering processes that share a central scheduler: any number of shared holders
    may run together, never next to an exclusive one.
    """
    folder = workflow_state_dir(str(log_dir))
    fd = _lock_file(folder, shared)
    _held_fds.add(fd)
    me = Holder(os.getpid(), socket.gethostname(), time.time(), process_start_time(os.getpid()), shared)
    try:
        _drop_stale_records(folder, me)
        _write_record(folder / HOLDERS_DIR / me.name, me)
        yield me
    finally:
        (folder / HOLDERS_DIR / me.name).unlink(missing_ok=True)
        if not shared:  # shared holders may still hold this very file; an exclusive one holds it alone
            (folder / LOCK_FILE).unlink(missing_ok=True)
            for empty in (folder / HOLDERS_DIR, folder):
                with contextlib.suppress(OSError):
                    empty.rmdir()
        _held_fds.discard(fd)
        os.close(fd)  # closing releases the flock


def _lock_file(folder: Path, shared: bool) -> int:
    """Open and flock the lock file; retried when its holder removed it between our open and our flock."""
    while True:
        try:
            (folder / HOLDERS_DIR).mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            continue  # the folder was removed by a holder that just finished
        except OSError as error:
            raise WorkflowStateError(
                f"Cannot create the workflow lock in {folder}: {error.strerror}; log_dir must be a writable folder"
            ) from error
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise WorkflowLockedError(_locked_message(folder, shared)) from None
        try:
            if os.stat(folder / LOCK_FILE).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def holders(log_dir: Path | str) -> list[Holder]:
    """The recorded holders of a workflow's lock (records of dead processes included)."""
    found = []
    for path in sorted((workflow_state_dir(str(log_dir)) / HOLDERS_DIR).glob("*.json")):
        try:
            data = json.loads(path.read_text())
            pid, host, since, shared = int(data["pid"]), str(data["host"]), float(data["since"]), bool(data["shared"])
            found.append(Holder(pid, host, since, data.get("started"), shared))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # half-written by a process killed at that moment: not a holder
    return found


def _locked_message(folder: Path, shared: bool) -> str:
    live = [h for h in holders(folder.parent) if not h.is_dead_here()]
    who = "; ".join(h.describe() for h in live) or "a process that has not written its record yet"
    text = f"Another b2core steering process runs this workflow (job store in {folder}): {who}. "
    if shared:
        text += "It runs without a central scheduler, so this run cannot share the workflow with it; "
    elif any(h.shared for h in live):
        text += "It shares the workflow through a central scheduler: start this run with the same --scheduler-host, or "
    text += "wait for it to end or stop it. Two steering processes on one job store would run tasks twice."
    return text


def _drop_stale_records(folder: Path, me: Holder) -> None:
    """Remove records whose process no longer holds the lock; an exclusive holder knows every other one is stale."""
    for holder in holders(folder.parent):
        if holder.name == me.name:
            continue
        if holder.is_dead_here() or not me.shared:
            logger.warning(
                "Taking over the workflow lock in %s from the steering process %s, which no longer runs",
                folder,
                holder.describe(),
            )
            (folder / HOLDERS_DIR / holder.name).unlink(missing_ok=True)
    if not me.shared:  # records nobody could read (a holder killed while writing) are stale too
        for path in (folder / HOLDERS_DIR).iterdir():
            if path.name != me.name:
                path.unlink(missing_ok=True)


def _write_record(path: Path, holder: Holder) -> None:
    """Written in place: a record half-written by a killed process is skipped by readers and removed later."""
    data = {"pid": holder.pid, "host": holder.host, "since": holder.since, "started": holder.started}
    path.write_text(json.dumps({**data, "shared": holder.shared}))


def _close_in_forked_child() -> None:
    """A forked worker must not keep the lock alive after the steering process died."""
    for fd in list(_held_fds):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held_fds.clear()


os.register_at_fork(after_in_child=_close_in_forked_child)
