"""Atomic outputs: run() writes to temporary names that are moved into place only when it succeeds.

A failed or killed run therefore never leaves a file under an output's final name, so luigi never
mistakes half-written results for complete ones.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
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
        self.published: dict[str, Any] = {}  # final path -> remote target, published on success
        self.inputs: dict[str, str] = {}  # remote input URL -> its local copy, downloaded once per run()

    def path_for(self, final: str, target: Any = None, scratch_dir: str | None = None) -> str:
        """The temporary path run() should write instead of `final`; remote targets are written in scratch."""
        if final not in self.staged:
            remote = hasattr(target, "publish")
            folder = None
            if self.scratch_dir or remote:
                folder = self._new_scratch_folder(self.scratch_dir or scratch_dir)
            self.staged[final] = temporary_name(final, folder)
            if remote:
                self.published[final] = target
        return self.staged[final]

    def input_path(self, target: Any, scratch_dir: str) -> str:
        """A remote input's local copy (downloaded once per run, verified); other inputs' own path."""
        if not hasattr(target, "download_to"):
            return target.path
        url = target.url
        if url not in self.inputs:
            self.inputs[url] = target.download_to(self._new_scratch_folder(scratch_dir))
        return self.inputs[url]

    def _new_scratch_folder(self, scratch_dir: str | None) -> str:
        folder = os.path.join(scratch_dir or tempfile.gettempdir(), f"b2core-{os.getpid()}-{secrets.token_hex(4)}")
        os.makedirs(folder, exist_ok=True)
        return folder

    def commit(self) -> None:
        """Publish remote outputs, then move local ones into place; each step is an atomic rename."""
        try:
            for final, target in self.published.items():
                temporary = self.staged.pop(final)
                if os.path.lexists(temporary):
                    target.publish(temporary)
                _remove(temporary)
                shutil.rmtree(os.path.dirname(temporary), ignore_errors=True)
        except BaseException:
            self.discard()
            raise
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
        for final, temporary in self.staged.items():
            if self.scratch_dir or final in self.published:
                shutil.rmtree(os.path.dirname(temporary), ignore_errors=True)
        for local in self.inputs.values():
            shutil.rmtree(os.path.dirname(local), ignore_errors=True)
        self.published.clear()
        self.inputs.clear()


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
