"""A full disk or quota, told apart from other write errors: the folder that is full gets named, so the
user sees "No space left on device in <folder>" instead of a bare OSError from deep inside run()."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable

from b2core.errors import OutputWriteError

DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
#: free bytes below which a file system counts as full (a failed write may leave a few blocks)
NEARLY_NOTHING = 64 * 1024


def is_disk_full(error: BaseException) -> bool:
    """Whether an error says the disk (or the user's quota) is full."""
    return isinstance(error, OSError) and error.errno in DISK_FULL_ERRNOS


def full_folder(paths: Iterable[str]) -> str | None:
    """The folder of the first path whose file system has (almost) no space left, if any."""
    for path in paths:
        folder = os.path.dirname(os.path.abspath(path))
        while folder and not os.path.isdir(folder) and folder != os.path.dirname(folder):
            folder = os.path.dirname(folder)
        try:
            stats = os.statvfs(folder)
        except OSError:
            continue
        if stats.f_bavail * stats.f_frsize < NEARLY_NOTHING:
            return folder
    return None


def output_write_error(task_id: str, error: BaseException, paths: Iterable[str]) -> OutputWriteError | None:
    """For a disk-full error while a task wrote its outputs (paths: where it wrote), the error to show instead."""
    if not is_disk_full(error):
        return None
    paths = list(paths)
    where = error.filename or full_folder(paths) or (os.path.dirname(paths[0]) if paths else "its result_dir")
    failure = OutputWriteError(
        f"Task {task_id} could not write its outputs in {where}: {os.strerror(error.errno)}. Nothing it wrote "
        "was kept; free space there (or set result_dir to a folder with room) and run the task again"
    )
    failure.errno = error.errno  # still an OSError a caller can test, without "[Errno 28]" in the message
    return failure
