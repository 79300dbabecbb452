"""Removing the partial outputs of killed runs: temporary names (see b2core.staging) that a run() killed
before it could move them into place would otherwise stay next to the results for good.

Safe because b2core never runs one task twice at a time (one steering process per workflow, running jobs
are re-attached, not resubmitted): when a task's run() starts, every temporary file of that task's own
outputs belongs to an earlier run() that is dead. Other files are never touched. Remote outputs are
cleaned the same way on their server (temporary uploads of a killed job), by their file system.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import shutil
from collections.abc import Collection
from typing import Any

from b2core.staging import TMP_MARKER
from luigi.task import flatten

logger = logging.getLogger("b2core")
_TEMPORARY = re.compile(rf"(?P<stem>.*?){re.escape(TMP_MARKER)}\d{{10}}(?P<rest>(\..*)?)\Z", re.DOTALL)


def final_name(entry: str) -> str | None:
    """The final file name a temporary name (see b2core.staging.temporary_name) stands for, else None."""
    match = _TEMPORARY.match(entry) if TMP_MARKER in entry else None
    return match["stem"] + match["rest"] if match else None


def remove_stale_temporaries(task: Any, targets: list[Any] | None = None, skip_folders: Collection[str] = ()) -> int:
    """Before a task's run(): delete what killed earlier runs of it left under temporary names; returns how many.

    targets are the task's flattened outputs when the caller has them; skip_folders were just created.
    """
    finals: dict[str, set[str]] = {}
    remote: dict[tuple[int, str], tuple[Any, set[str]]] = {}
    for target in flatten(task.output()) if targets is None else targets:
        path = getattr(target, "path", None)
        if not isinstance(path, str):
            continue
        if hasattr(target, "publish"):  # a remote output: its file system lists and removes on the server
            folder, name = posixpath.split(path.rstrip("/") or path)
            remote.setdefault((id(target.fs), folder), (target.fs, set()))[1].add(name)
        else:
            folder, name = os.path.split(path.rstrip(os.sep) or path)
            finals.setdefault(folder, set()).add(name)
    removed = sum(fs.remove_stale_temporaries(folder, names) for (_, folder), (fs, names) in remote.items())
    for folder, names in finals.items():
        if folder in skip_folders:
            continue
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            if final_name(entry) in names:
                path = os.path.join(folder, entry)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    os.remove(path)
                removed += 1
    if removed:
        logger.info("Removed %d partial output(s) that killed runs of %s left behind", removed, task.task_id)
    return removed
