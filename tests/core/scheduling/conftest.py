"""A central scheduler process on a free loopback port: luigi's luigid or `b2core scheduler`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_scheduler(command: list[str], folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start a scheduler command (given --port/--address/--state-path here) and wait until it listens."""
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    args = [*command, "--port", str(port), "--address", "127.0.0.1", "--state-path", str(folder / "state.pickle")]
    stderr = open(folder / "stderr.txt", "a")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr, cwd=folder)
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                pytest.fail(f"{command[0]} did not start: " + (folder / "stderr.txt").read_text())
            time.sleep(0.1)


def stop_scheduler(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the scheduler saves its state), SIGKILL if it hangs."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


B2CORE_SCHEDULER = [sys.executable, "-m", "b2core.cli.main", "scheduler"]


@pytest.fixture
def b2core_scheduler(tmp_path: Path) -> Iterator[Callable[[], tuple[subprocess.Popen[bytes], int]]]:
    """Starts `b2core scheduler` processes (state file in tmp_path/scheduler); stops what is left running."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> tuple[subprocess.Popen[bytes], int]:
        proc, port = start_scheduler(B2CORE_SCHEDULER, tmp_path / "scheduler")
        started.append(proc)
        return proc, port

    yield start
    for proc in started:
        if proc.poll() is None:
            stop_scheduler(proc)


@pytest.fixture(params=["luigid", "b2core"])
def central_scheduler(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[int]:
    """Port of a running central scheduler, stopped after the test."""
    if request.param == "luigid":
        exe = shutil.which("luigid", path=os.path.dirname(sys.executable)) or shutil.which("luigid")
        if exe is None:
            pytest.skip("luigid is not installed")
        command = [exe, "--logdir", str(tmp_path / "scheduler")]
    else:
        command = B2CORE_SCHEDULER
    proc, port = start_scheduler(command, tmp_path / "scheduler")
    try:
        yield port
    finally:
        stop_scheduler(proc)
