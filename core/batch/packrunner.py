"""Inside a pack's job: one Python process runs the pack's tasks one after another (or `cores_per_job`
at a time, forked), each with its own stdout/stderr files, and leaves one exit marker per task.

The manifest lists the tasks with their specs (what the job instantiates, see
:func:`b2core.batch.wrapper.task_spec`) and log files. The markers are files named
``<index>.<exit code>`` in the pack's ``done/`` folder: creating an empty file is atomic, and the
steering process reads every task's result with one directory listing while the job still runs. A
task that fails does not stop the others.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

PACK_TASK_ID_PREFIX = "b2core-pack:"
MANIFEST = "manifest.json"
DONE_DIR = "done"
CANCELLED_DIR = "cancelled"
_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC


def finished_tasks(folder: Path) -> dict[int, int]:
    """Exit codes of the pack's tasks that have ended, by index in the manifest."""
    try:
        names = os.listdir(folder / DONE_DIR)
    except FileNotFoundError:
        return {}
    finished = {}
    for name in names:
        index, _, code = name.partition(".")
        if index.isdigit() and code.lstrip("-").isdigit():
            finished[int(index)] = int(code)
    return finished


def cancelled_tasks(folder: Path) -> set[int]:
    """Indices of the pack's tasks the steering process cancelled (they are skipped when not yet started)."""
    try:
        return {int(name) for name in os.listdir(folder / CANCELLED_DIR) if name.isdigit()}
    except FileNotFoundError:
        return set()


def run_pack(manifest: Path) -> int:
    """Run every task of the pack that has not ended yet; 0 when all of them succeeded."""
    folder = manifest.parent
    pack = json.loads(manifest.read_text())
    entries: list[dict[str, Any]] = pack["tasks"]
    (folder / DONE_DIR).mkdir(exist_ok=True)
    ended = finished_tasks(folder)  # a requeued job skips what an earlier run of it finished
    todo = [index for index in range(len(entries)) if index not in ended]
    if int(pack.get("cores", 1)) > 1:
        _run_forked(folder, entries, todo, int(pack["cores"]))
    else:
        for index in todo:
            _run_entry(folder, index, entries[index])
    ended = finished_tasks(folder)
    cancelled = cancelled_tasks(folder)
    failed = [entries[i]["task_id"] for i in range(len(entries)) if ended.get(i, 1) != 0 and i not in cancelled]
    print(f"b2core pack: {len(entries) - len(failed)} of {len(entries)} task(s) succeeded", flush=True)
    for task_id in failed:
        print(f"b2core pack: task {task_id} did not succeed", file=sys.stderr, flush=True)
    return 1 if failed else 0


def _run_entry(folder: Path, index: int, entry: dict[str, Any]) -> int:
    """Run one task unless it was cancelled; leave its exit marker."""
    if (folder / CANCELLED_DIR / str(index)).exists():
        return 0
    code = _run_with_own_logs(entry)
    (folder / DONE_DIR / f"{index}.{code}").touch()
    return code


def _run_with_own_logs(entry: dict[str, Any]) -> int:
    """Run one task with file descriptors 1 and 2 pointing to its own log files; its exit code."""
    from b2core.execution import load_task_from_spec, run_task_in_job

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    for fd, path in ((1, entry["stdout"]), (2, entry["stderr"])):
        try:
            log = os.open(path, _LOG_FLAGS, 0o644)
        except FileNotFoundError:  # the steering process leaves a packed task's log folder to its job
            os.makedirs(os.path.dirname(path), exist_ok=True)
            log = os.open(path, _LOG_FLAGS, 0o644)
        os.dup2(log, fd)
        os.close(log)
    try:
        run_task_in_job(load_task_from_spec(entry["spec"], entry["task_id"]))
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except KeyboardInterrupt:
        raise
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
    return code


def _run_forked(folder: Path, entries: list[dict[str, Any]], todo: list[int], cores: int) -> None:
    """Run up to `cores` tasks at a time, each in a child forked from this (already imported) process."""
    running: dict[int, int] = {}
    pending = list(reversed(todo))
    while pending or running:
        while pending and len(running) < cores:
            index = pending.pop()
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    code = _run_entry(folder, index, entries[index])
                finally:
                    os._exit(code & 0xFF)
            running[pid] = index
        pid, status = os.wait()
        index = running.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        if code < 0:  # killed by a signal before it could leave its marker
            (folder / DONE_DIR / f"{index}.{128 - code}").touch()
