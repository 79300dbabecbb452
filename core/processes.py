"""Facts about processes on this host, so a recorded pid is never mistaken for a process that reused it."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

PR_SET_PDEATHSIG = 1


def process_start_time(pid: int) -> int | None:
    """When a live process started (clock ticks after boot), None when it is gone or a zombie.

    A pid together with its start time names one process for good; the kernel reuses pids, not both.
    """
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def is_running(pid: int, started: int | None) -> bool:
    """True while the process that had this pid and start time lives."""
    return started is not None and process_start_time(pid) == started


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux), for forked workers.

    Called in the child right after fork with the parent's pid; if the parent died in between, exit at once.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled exactly like Ctrl-C (same cancel policy, message and job records)."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises Terminated in the main thread instead of ending the process silently."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        # the process ends now; the interpreter's exit would walk every object of the run in its garbage
        # collections (10^5 tasks: seconds of CPU, tens of seconds on a loaded machine), frozen ones it skips
        gc.freeze()
        raise Terminated(f"terminated by signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
