"""Atomic outputs: run() writes to temporary names that are moved into place only when it succeeds.

A failed or killed run therefore never leaves a file under an output's final name, so luigi never
mistakes half-written results for complete ones. Under on_temporary_files, inputs are read from
copies in scratch_dir too, as b2luigi does.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

TMP_MARKER = "-luigi-tmp-"  # b2luigi's marker, so its users' clean-up scripts keep matching
# temporary names need to be unique, not unpredictable: seeded from the OS once per process (again in a
# forked child), a draw costs a fifth of reading os.urandom for every name
_names = random.Random()
os.register_at_fork(after_in_child=_names.seed)


def temporary_name(final: str, folder: str | None = None) -> str:
    """A unique sibling (or scratch) name that keeps every extension, e.g. a-luigi-tmp-0123456789.tar.gz."""
    final = final.rstrip(os.sep) or final  # a folder output "out/" is named like "out"
    base = os.path.basename(final)
    stem, dot, extensions = base.partition(".")
    name = f"{stem}{TMP_MARKER}{_names.randrange(10**10):010d}{dot}{extensions}"
    return os.path.join(folder or os.path.dirname(final), name)


class OutputStaging:
    """Hands out temporary paths for a task's outputs during one run() and settles them afterwards."""

    def __init__(self, scratch_dir: str | None = None) -> None:
        self.scratch_dir = scratch_dir
        self.staged: dict[str, str] = {}
        self.published: dict[str, Any] = {}  # final path -> remote target, published on success
        self.inputs: dict[str, str] = {}  # input URL or path -> its local copy, made once per run()
        self.output_index: dict[str, Any] | None = None  # the task's outputs by name, built once per run()

    def path_for(self, final: str, target: Any = None, scratch_dir: str | None = None, **tmp_file_kwargs: Any) -> str:
        """The temporary path run() should write instead of `final`; remote targets are written in scratch.

        tmp_file_kwargs (suffix, prefix) go to tempfile.mkdtemp for the scratch folder.
        """
        if final not in self.staged:
            remote = hasattr(target, "publish")
            folder = None
            if self.scratch_dir or remote:
                folder = self._new_scratch_folder(self.scratch_dir or scratch_dir, **tmp_file_kwargs)
            self.staged[final] = temporary_name(final, folder)
            if remote:
                self.published[final] = target
        return self.staged[final]

    def input_path(self, target: Any, scratch_dir: str, copy_local: bool = False) -> str:
        """A remote input's local copy (downloaded once per run, verified); with copy_local, a local input's
        copy in scratch (on_temporary_files, as in b2luigi); otherwise the input's own path."""
        remote = hasattr(target, "download_to")
        if not remote and not (copy_local and os.path.lexists(getattr(target, "path", ""))):
            return target.path
        key = target.url if remote else target.path
        if key not in self.inputs:
            folder = self._new_scratch_folder(scratch_dir)
            if remote:
                self.inputs[key] = target.download_to(folder)
            else:
                self.inputs[key] = os.path.join(folder, os.path.basename(temporary_name(target.path)))
                copy_path(target.path, self.inputs[key])
        return self.inputs[key]

    def localise_inputs(self, targets: Iterable[Any], scratch_dir: str, threads: int | None) -> None:
        """Make the local copies of several inputs at once, `threads` at a time (b2luigi's n_download_threads)."""
        todo = {getattr(t, "url", None) or t.path: t for t in targets}
        todo = [t for key, t in todo.items() if key not in self.inputs]
        if threads and len(todo) > 1:
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(lambda target: self.input_path(target, scratch_dir, copy_local=True), todo))
        else:
            for target in todo:
                self.input_path(target, scratch_dir, copy_local=True)

    def _new_scratch_folder(self, scratch_dir: str | None, **tmp_file_kwargs: Any) -> str:
        folder = scratch_dir or tempfile.gettempdir()
        os.makedirs(folder, exist_ok=True)
        tmp_file_kwargs.setdefault("prefix", f"b2core-{os.getpid()}-")
        return tempfile.mkdtemp(dir=folder, **tmp_file_kwargs)

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
        folders = set()
        for final, temporary in self.staged.items():
            parent = os.path.dirname(final)
            if os.path.dirname(temporary) != parent:  # a sibling's folder exists: it holds the temporary
                if not os.path.lexists(temporary):
                    continue
                if parent not in folders:
                    os.makedirs(parent or ".", exist_ok=True)
                    folders.add(parent)
                sibling = temporary_name(final)
                copy_path(temporary, sibling)
                _remove(temporary)
                temporary = sibling
            _replace(temporary, final)
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


def copy_path(source: str, target: str) -> None:
    """Copy a file or a whole folder (symlinks kept as links)."""
    if os.path.isdir(source):
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target)


def _replace(temporary: str, final: str) -> None:
    """Move temporary to final in one rename; a folder in the way (an older result) is removed first, an
    output run() did not write is left alone (asked only when the rename fails: one system call per output)."""
    try:
        os.replace(temporary, final)
    except FileNotFoundError:
        if os.path.lexists(temporary):
            raise  # the output's folder went away while run() wrote
    except OSError:
        if not os.path.isdir(final) or os.path.islink(final):
            raise
        shutil.rmtree(final)
        os.replace(temporary, final)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


_active: dict[int, OutputStaging] = {}  # id(task) -> the staging of its current run()


@contextmanager
def staging_for(task: Any, staging: OutputStaging) -> Iterator[OutputStaging]:
    """Make `staging` the one of the task's run() for the block; kept beside the task, not in its __dict__
    (a new key there makes each of 10^5 task dicts a private copy)."""
    _active[id(task)] = staging
    try:
        yield staging
    finally:
        _active.pop(id(task), None)


def active_staging(task: Any) -> OutputStaging | None:
    """The staging of the task's current run(), if one is active."""
    return _active.get(id(task))
