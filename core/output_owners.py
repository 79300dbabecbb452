"""During a run, every output path belongs to one task: a second task naming the same file, a folder
inside another task's output, or a folder holding one, is refused. Otherwise that task would count as
complete without writing anything, and removing its outputs would delete another task's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from b2core.errors import OutputPathError

_owners: dict[str, str] | None = None  # output path -> task id, while a run checks
_folders: dict[str, str] = {}  # folder above some output -> the id of one task with an output below it
_generation = [0]
_owned_folders = [False]  # whether some recorded folder is also claimed as an output (then walks go to the root)


@contextlib.contextmanager
def checking_output_owners() -> Iterator[None]:
    """Check output ownership for a block (a run, a removal); the record starts empty each time."""
    global _owners
    _owners, saved = {}, _owners
    _folders.clear()
    _owned_folders[0] = False
    _generation[0] += 1
    try:
        yield
    finally:
        _owners = saved
        _folders.clear()


def generation() -> int:
    """Changes whenever a new check starts, so tasks know to claim their paths again."""
    return _generation[0] if _owners is not None else -1


def claim(task_id: str, path: str) -> None:
    """Record that a task writes `path`; raises OutputPathError naming both tasks if another one does."""
    if _owners is None:
        return
    normal = os.path.normpath(path)
    path = path if normal == path else normal  # the caller's string when equal: one copy per output, not two
    owner = _owners.setdefault(path, task_id)
    if owner != task_id:
        raise OutputPathError(f"Output {path} of task {task_id} is also an output of task {owner}; rename one of them")
    below = _folders.get(path)
    if below is not None and below != task_id:
        raise OutputPathError(f"Output {path} of task {task_id} is a folder holding outputs of task {below}")
    if below is not None:
        _owned_folders[0] = True  # a task owns a folder above its own outputs: walks must go to the root
    folder = os.path.dirname(path)
    while folder and folder != os.path.dirname(folder):
        above = _owners.get(folder)
        if above is not None and above != task_id:
            raise OutputPathError(f"Output {path} of task {task_id} lies inside {folder}, an output of task {above}")
        if folder in _folders and not _owned_folders[0]:
            break  # its ancestors were walked when it was recorded, and none can be claimed since
        _folders.setdefault(folder, task_id)
        folder = os.path.dirname(folder)
