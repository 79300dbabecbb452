"""Atomic outputs: run() writes to temporary names that are moved into place only when it succeeds.

A failed or killed run therefore never leaves a file under an output's final name, so luigi never
mistakes half-written results for complete ones.
"""

from __future__ import annotations

import os
import secrets
import shutil
from typing import Any

TMP_MARKER = "-b2core-tmp-"


def temporary_name(final: str, folder: str | None = None) -> str:
    """A unique sibling (or scratch) name that keeps every extension, e.g. a-b2core-tmp-123.tar.gz."""
    base = os.path.basename(final)
    stem, dot, extensions = base.partition(".")
    name = f"{stem}{TMP_MARKER}{secrets.randbelow(10**10):010d}{dot}{extensions}"
    return os.path.join(folder or os.path.dirname(final), name)


class OutputStaging:
    """Hands out temporary paths for a task's outputs during one run() and settles them afterwards."""

    def __init__(self, scratch_dir: str | None = None) -> None:
        self.scratch_dir = scratch_dir
        self.staged: dict[str, str] = {}

    def path_for(self, final: str) -> str:
        """The temporary path run() should write instead of `final`."""
        if final not in self.staged:
            folder = None
            if self.scratch_dir:
                folder = os.path.join(self.scratch_dir, f"b2core-{os.getpid()}-{secrets.token_hex(4)}")
                os.makedirs(folder, exist_ok=True)
            self.staged[final] = temporary_name(final, folder)
        return self.staged[final]

    def commit(self) -> None:
        """Move every written temporary file into place; each move is an atomic rename."""
        for final, temporary in self.staged.items():
            if not os.path.lexists(temporary):
                continue
            os.makedirs(os.path.dirname(final) or ".", exist_ok=True)
            if os.path.dirname(temporary) != os.path.dirname(final):
                sibling = temporary_name(final)
                _copy(temporary, sibling)
                _remove(temporary)
                temporary = sibling
            if os.path.isdir(final) and not os.path.islink(final):
                shutil.rmtree(final)
            os.replace(temporary, final)
        self._drop_scratch_folders()
        self.staged.clear()

    def discard(self) -> None:
        """Delete what a failed run() wrote, so nothing partial is left behind."""
        for temporary in self.staged.values():
            _remove(temporary)
        self._drop_scratch_folders()
        self.staged.clear()

    def _drop_scratch_folders(self) -> None:
        if self.scratch_dir:
            for temporary in self.staged.values():
                shutil.rmtree(os.path.dirname(temporary), ignore_errors=True)


def _copy(source: str, target: str) -> None:
    if os.path.isdir(source):
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def active_staging(task: Any) -> OutputStaging | None:
    """The staging of the task's current run(), if one is active."""
    return task.__dict__.get("_b2core_staging")
