"""What a person sees while the real `b2core` command runs a workflow with one failing task: the live
progress table on a terminal (driven through a pseudo-terminal), plain lines when output goes to a
file, and in both cases the closing failure summary."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

MODULE = """
import sys
import b2core as b2luigi

class Number(b2luigi.Task):
    n = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("n.txt")

    def run(self):
        if self.n == 2:
            print("number 2 is about to give up", file=sys.stderr)
            raise RuntimeError("number 2 failed on purpose")
        with open(self.get_output_file_name("n.txt"), "w") as f:
            f.write(str(self.n))

class Total(b2luigi.Task):
    def requires(self):
        for n in range(4):
            yield Number(n=n)

    def output(self):
        yield self.add_to_output("total.txt")

    def run(self):
        with open(self.get_output_file_name("total.txt"), "w") as f:
            f.write("total")
"""

RUN = ("run", "flows:Total", "--batch", "--workers", "4")
BATCH_ENV = {"B2CORE_BATCH_SYSTEM": "local"}
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SEP = "[│┃|]"  # rich's light and heavy vertical lines, or ASCII
ROW = re.compile(rf"^{SEP} (?P<name>.+?) +{SEP}(?P<cells>.*){SEP}$")


def b2core_command() -> list[str]:
    """The installed console script (next to this interpreter), else the module."""
    script = Path(sys.executable).parent / "b2core"
    if script.exists():
        return [str(script)]
    found = shutil.which("b2core")
    return [found] if found else [sys.executable, "-m", "b2core.cli.main"]


@dataclass
class TerminalRun:
    """A run under a pseudo-terminal: everything it wrote to the terminal, raw and without escapes."""

    returncode: int
    raw: str

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw).replace("\r\n", "\n")

    def __repr__(self) -> str:
        return f"\n--- exit code {self.returncode}\n--- terminal\n{self.text}"


def run_in_terminal(argv: list[str], cwd: Path, env: dict[str, str], limit: float = 180) -> TerminalRun:
    """Run a command with stdin, stdout and stderr on a new 120x40 pseudo-terminal; read until it ends.

    `limit` only keeps a broken run from hanging the suite; nothing is asserted about durations.
    """
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    give_up = time.monotonic() + limit
    try:
        while time.monotonic() < give_up:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if process.poll() is not None:
                    break  # ended, and nothing is left to read (a job may still hold the terminal)
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every holder of the terminal has closed it
                break
            if not data:
                break
            chunks.append(data)
        try:  # the terminal closes a moment before the process has ended
            process.wait(timeout=max(give_up - time.monotonic(), 5))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"b2core did not end within {limit} s:\n{b''.join(chunks).decode(errors='replace')}")
    finally:
        os.close(master)
    return TerminalRun(process.returncode, b"".join(chunks).decode(errors="replace"))


@pytest.fixture
def flows(workflow):
    """The workflow folder with the task module `flows.py` (Number 2 fails in its job)."""
    workflow.write(MODULE, name="flows.py")
    return workflow


def terminal_env(flows) -> dict[str, str]:
    """The run's environment, as on an ordinary colour terminal of 120 columns."""
    env = flows.environment(BATCH_ENV)
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS"):
        env.pop(name, None)
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
    return env


def failed_job(flows) -> tuple[str, str]:
    """(task id, job id) of the failed task, read from the job records with `b2core status`."""
    status = flows.command([*b2core_command(), "status"], env=BATCH_ENV)
    assert status.returncode == 0, status
    rows = [line.split() for line in status.stdout.splitlines() if line.startswith("Number_2_")]
    assert len(rows) == 1 and rows[0][1:3] == ["failed", "local"], status
    return rows[0][0], rows[0][3]


def check_failure_summary(text: str, flows) -> None:
    """The summary names the failed task, its job id and backend, the job's state, both logs and stderr's end."""
    task_id, job_id = failed_job(flows)
    assert "===== b2core: 1 task(s) failed =====" in text
    summary = text[text.index("===== b2core: 1 task(s) failed =====") :]
    lines = [line.strip() for line in summary.splitlines()]
    assert f"* {task_id}" in lines, summary
    assert f"job {job_id} on local: failed (EXITED, exit code 1)" in lines, summary
    log_dir = flows.path / "logs" / "n=2" / "Number"
    assert f"stdout: {log_dir / 'stdout'}" in lines and f"stderr: {log_dir / 'stderr'}" in lines, summary
    assert "RuntimeError: number 2 failed on purpose" in (log_dir / "stderr").read_text()
    tail = lines[lines.index("Last lines of stderr:") + 1 :]
    assert "RuntimeError: number 2 failed on purpose" in tail, summary
    assert not any(line.startswith("* Number_") and line != f"* {task_id}" for line in lines), summary


def table_rows(frame: str) -> dict[str, list[str]]:
    """Row name to cell texts of one rendered progress table."""
    rows = {}
    for line in frame.splitlines():
        match = ROW.match(line.strip())
        if match:
            rows[match["name"].strip()] = [cell.strip() for cell in re.split(SEP, match["cells"])]
    return rows


def test_live_progress_table_on_a_terminal_and_the_failure_summary(flows) -> None:
    """Under a terminal: a rich table redrawn in place, per family and per backend, then the summary."""
    run = run_in_terminal([*b2core_command(), *RUN], flows.path, terminal_env(flows))
    assert run.returncode == 1, run
    assert "\x1b[2K" in run.raw and "\x1b[1A" in run.raw, run  # lines erased and redrawn: a live display
    text = run.text
    before_summary = text[: text.index("===== b2core:")]
    frames = re.split(r"(?=b2core +\d+:\d\d:\d\d elapsed)", before_summary)[1:]  # each starts with its title
    assert len(frames) >= 2, run  # the first frame at the start, the last one at the end
    final = frames[-1]
    columns = ("task family", "pending", "running", "done", "failed")
    assert re.search(f" *{SEP} *".join(columns), before_summary), run
    rows = table_rows(final)
    assert rows["Number"] == ["0", "0", "3", "1"], run  # pending, running, done, failed
    assert rows["Total"] == ["1", "0", "0", "0"], run  # never ran: its requirement failed
    assert rows["jobs on local"][:2] == ["0 queued", "0 run"], run  # every job of the run has ended
    assert re.search(r"3/5 done, \d+\.\d tasks/s", final), run
    assert "Informed scheduler" not in text  # luigi's INFO lines would tear the live table apart
    check_failure_summary(text, flows)
    assert (flows.path / "n=3" / "n.txt").read_text() == "3"
    assert not (flows.path / "total.txt").exists()


def test_plain_progress_lines_without_a_terminal(flows) -> None:
    """Without a terminal: no escape codes, luigi's log lines, a plain progress line, then the same summary."""
    run = flows.command([*b2core_command(), *RUN], env=BATCH_ENV, timeout=180)
    assert run.returncode == 1, run
    assert "\x1b[" not in run.output, run
    assert "Informed scheduler that task" in run.stderr, run
    progress = re.findall(r"^b2core: .*$", run.stderr, flags=re.MULTILINE)
    assert progress, run
    assert re.fullmatch(
        r"b2core: 3/5 done, 0 running, 1 pending, 1 failed, \d+:\d\d:\d\d elapsed, \d+\.\d tasks/s; "
        r"jobs local: 0 queued/0 running",
        progress[-1],
    ), run
    check_failure_summary(run.stderr, flows)
