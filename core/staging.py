"""Atomic outputs: run() writes to temporary names that are moved into place only when it succeeds.

A failed or killed run therefore never leaves a file under an output's final name, so luigi never
mistakes half-written results for complete ones. Under on_temporary_files, inputs are read from
copies in scratch_dir too (InputCopies), as b2luigi does.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

TMP_MARKER = "-luigi-tmp-"  # b2luigi's marker, so its users' clean-up scripts keep matching


def temporary_name(final: str, folder: str | None = None) -> str:
    """A unique sibling (or scratch) name that keeps every extension, e.g. a-luigi-tmp-0123456789.tar.gz."""
    final = final.rstrip(os.sep) or final  # a folder output "out/" is named like "out"
    base = os.path.basename(final)
    stem, dot, extensions = base.partition(".")
    name = f"{stem}{TMP_MARKER}{secrets.randbelow(10**10):010d}{dot}{extensions}"
    return os.path.join(folder or os.path.dirname(final), name)


class OutputStaging:
    """Hands out temporary paths for a task's outputs during one run() and settles them afterwards."""

    def __init__(self, scratch_dir: str | None = None) -> None:
        self.scratch_dir = scratch_dir
        self.staged: dict[str, str] = {}

    def path_for(self, final: str, **tmp_file_kwargs: Any) -> str:
        """The temporary path run() should write instead of `final`; kwargs go to tempfile.mkdtemp in scratch."""
        if final not in self.staged:
            folder = None
            if self.scratch_dir:
                os.makedirs(self.scratch_dir, exist_ok=True)
                tmp_file_kwargs.setdefault("prefix", f"b2core-{os.getpid()}-")
                folder = tempfile.mkdtemp(dir=self.scratch_dir, **tmp_file_kwargs)
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
                copy_path(temporary, sibling)
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


def copy_path(source: str, target: str) -> None:
    """Copy a file or a whole folder (symlinks kept as links)."""
    if os.path.isdir(source):
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


class InputCopies:
    """Copies of a task's inputs in scratch_dir for one run(), each made once, removed afterwards."""

    def __init__(self, task: Any, threads: int | None) -> None:
        self.task = task
        self.threads = threads
        self.copies: dict[str, str] = {}
        self.exits = ExitStack()

    def localise(self, targets: Iterable[Any]) -> None:
        """Copy every target not yet copied (through its get_temporary_input), n_download_threads at a time."""
        todo = {t.path: t for t in targets if t.path not in self.copies and hasattr(t, "get_temporary_input")}
        if not todo:
            return
        managers = [target.get_temporary_input(task=self.task) for target in todo.values()]
        if self.threads:
            with ThreadPoolExecutor(self.threads) as pool:
                paths = list(pool.map(lambda manager: manager.__enter__(), managers))
        else:
            paths = [manager.__enter__() for manager in managers]
        for source, manager, path in zip(todo, managers, paths, strict=True):
            self.exits.push(manager.__exit__)
            self.copies[source] = path

    def path_for(self, source: str) -> str:
        """The copy of an input path, or the path itself for inputs that cannot be copied."""
        return self.copies.get(source, source)

    def discard(self) -> None:
        """Remove every copy."""
        self.exits.close()
        self.copies.clear()


def active_staging(task: Any) -> OutputStaging | None:
    """The staging of the task's current run(), if one is active."""
    return task.__dict__.get("_b2core_staging")


def active_input_copies(task: Any) -> InputCopies | None:
    """The input copies of the task's current on_temporary_files run(), if one is active."""
    return task.__dict__.get("_b2core_input_copies")
