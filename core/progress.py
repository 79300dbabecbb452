"""What a person watching a run sees: live counts per task family and backend, and a closing
summary that explains every failure.

The worker reports each status change in O(1); a background thread renders twice a second (a rich
live table on a terminal, a plain line every 30 s and one at the end otherwise), so large runs are not
slowed.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter, defaultdict
from typing import Any, TextIO

from b2core.hookspecs import hookimpl

STATES = ("pending", "running", "done", "failed")
_LUIGI_TO_STATE = {"PENDING": "pending", "RUNNING": "running", "DONE": "done", "FAILED": "failed", "DISABLED": "failed"}


class ProgressTracker:
    """Counts tasks per family and state, and jobs per backend and state."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.families: dict[str, Counter[str]] = defaultdict(Counter)
        self.backends: dict[str, Counter[str]] = defaultdict(Counter)
        self.task_state: dict[str, tuple[str, str]] = {}
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}  # one shared (family, state) tuple each
        self.job_state: dict[tuple[str, str], str] = {}
        self.failures: dict[str, str] = {}
        self.last_job: dict[str, tuple[str, str, Any]] = {}
        self.lock = threading.Lock()

    def task_changed(self, task_id: str, family: str, luigi_status: str, explanation: str = "") -> None:
        """Record a task's new luigi status (from the worker)."""
        state = _LUIGI_TO_STATE.get(luigi_status)
        if state is None:
            return
        with self.lock:
            old = self.task_state.get(task_id)
            if old is not None:
                self.families[old[0]][old[1]] -= 1
            self.families[family][state] += 1
            self.task_state[task_id] = self._pairs.setdefault((family, state), (family, state))
            if state == "failed":
                self.failures[task_id] = explanation
            else:
                self.failures.pop(task_id, None)

    def job_changed(self, backend: str, job_key: str, state: str | None) -> None:
        """Record a job's state on its backend (queued, running; None once it ended)."""
        with self.lock:
            old = self.job_state.pop((backend, job_key), None)
            if old is not None:
                self.backends[backend][old] -= 1
            if state is not None:
                self.backends[backend][state] += 1
                self.job_state[(backend, job_key)] = state

    def totals(self) -> Counter[str]:
        """Task counts over all families."""
        with self.lock:
            total: Counter[str] = Counter()
            for counts in self.families.values():
                total.update(counts)
            return total

    def line(self) -> str:
        """One plain line for logs: done/total, running, failed, rate."""
        total = self.totals()
        elapsed = time.monotonic() - self.started
        count = sum(total.values())
        rate = total["done"] / elapsed if elapsed > 0 else 0.0
        jobs = ", ".join(
            f"{name}: {c['queued']} queued/{c['running']} running" for name, c in sorted(self.backends.items())
        )
        return (
            f"b2core: {total['done']}/{count} done, {total['running']} running, {total['pending']} pending, "
            f"{total['failed']} failed, {_duration(elapsed)} elapsed, {rate:.1f} tasks/s"
            + (f"; jobs {jobs}" if jobs else "")
        )

    def table(self) -> Any:
        """A rich table of families and backends, for the live display."""
        from rich.table import Table

        elapsed = time.monotonic() - self.started
        table = Table(title=f"b2core  {_duration(elapsed)} elapsed", expand=False)
        table.add_column("task family")
        for state in STATES:
            table.add_column(state, justify="right")
        with self.lock:
            for family in sorted(self.families):
                counts = self.families[family]
                table.add_row(family, *(str(counts[s]) for s in STATES))
            for backend in sorted(self.backends):
                counts = self.backends[backend]
                table.add_row(
                    f"[dim]jobs on {backend}[/dim]", f"{counts['queued']} queued", f"{counts['running']} run", "", ""
                )
        total = self.totals()
        rate = total["done"] / elapsed if elapsed > 0 else 0.0
        table.caption = f"{total['done']}/{sum(total.values())} done, {rate:.1f} tasks/s"
        return table

    # --- job lifecycle hooks (registered with the plugin manager for the run) ---------------------

    @hookimpl
    def b2core_job_submitted(self, task_id: str, backend: str, job_id: str) -> None:
        """A job is queued."""
        self.job_changed(backend, task_id, "queued")

    @hookimpl
    def b2core_job_status_changed(self, task_id: str, backend: str, status: Any) -> None:
        """A job moved between queued and running."""
        state = status.state.value
        self.job_changed(backend, task_id, state if state in ("queued", "running") else None)

    @hookimpl
    def b2core_job_finished(self, task_id: str, backend: str, job_id: str, status: Any) -> None:
        """A job ended; its id and final status are kept for the failure summary."""
        self.job_changed(backend, task_id, None)
        with self.lock:
            self.last_job[task_id] = (backend, job_id, status)


class ProgressDisplay:
    """Renders a tracker in the background until stopped."""

    def __init__(self, tracker: ProgressTracker, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.tracker = tracker
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="b2core-progress", daemon=True)

    def __enter__(self) -> ProgressDisplay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        if self.live:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream)
            with Live(self.tracker.table(), console=console, refresh_per_second=2, transient=False) as live:
                while not self._stop.wait(0.5):
                    live.update(self.tracker.table())
                live.update(self.tracker.table())
            return
        while not self._stop.wait(30):
            print(self.tracker.line(), file=self.stream, flush=True)
        print(self.tracker.line(), file=self.stream, flush=True)


def failure_summary(tracker: ProgressTracker) -> str:
    """The closing text naming each failed task and why: backend job, state, logs, last stderr lines."""
    if not tracker.failures:
        return ""
    lines = [f"===== b2core: {len(tracker.failures)} task(s) failed ====="]
    for task_id, explanation in sorted(tracker.failures.items()):
        text = _decode(explanation).strip() or "no explanation was reported"
        lines.append(f"* {task_id}")
        job = tracker.last_job.get(task_id)
        if job is not None:
            lines.append("    " + _job_line(*job))
        lines += ["    " + line for line in text.splitlines()[-25:]]
    return "\n".join(lines)


def _job_line(backend: str, job_id: str, status: Any) -> str:
    """`job <id> on <backend>: <state> (<native state>, exit code <n>)` from a job's final status."""
    state = getattr(getattr(status, "state", None), "value", "unknown")
    native = getattr(status, "native_state", "") or ""
    code = getattr(status, "exit_code", None)
    details = ", ".join(filter(None, [native, f"exit code {code}" if code is not None else ""]))
    return f"job {job_id or '(not submitted)'} on {backend}: {state}" + (f" ({details})" if details else "")


def _decode(explanation: str) -> str:
    try:
        value = json.loads(explanation)
    except (TypeError, ValueError):
        return explanation or ""
    return value if isinstance(value, str) else json.dumps(value)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
