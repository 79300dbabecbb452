"""Targets: luigi's LocalTarget, removing folders too, with b2luigi's scratch-directory helpers."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import luigi
from b2core.staging import OutputStaging, copy_path, temporary_name


class LocalTarget(luigi.LocalTarget):
    """A file or folder on a shared file system."""

    def remove(self) -> None:
        """Remove the file, or the whole folder for folder outputs."""
        if os.path.isdir(self.path) and not os.path.islink(self.path):
            shutil.rmtree(self.path)
        elif os.path.lexists(self.path):
            os.remove(self.path)

    def makedirs(self) -> bool:
        """Create the parent folder so run() can write the output; True if this call created it (so it is
        empty: nothing of an earlier run can be in it). One mkdir when the grandparent exists."""
        parent = os.path.dirname(os.path.abspath(self.path))
        try:
            os.mkdir(parent)
        except FileExistsError:
            if not os.path.isdir(parent):
                raise
            return False
        except FileNotFoundError:
            os.makedirs(parent, exist_ok=True)
        return True

    @property
    def tmp_name(self) -> str:
        """A fresh temporary file name for this target: <stem>-luigi-tmp-<10 digits><all extensions>."""
        name = os.path.basename(temporary_name(self.path))
        return name + "/" if self.path.endswith("/") else name

    @contextmanager
    def get_temporary_input(self, task: Any = None, **tmp_file_kwargs: Any) -> Iterator[str]:
        """A copy of this input in scratch_dir, removed afterwards (kwargs go to tempfile.TemporaryDirectory)."""
        with tempfile.TemporaryDirectory(dir=_scratch_dir(task), **tmp_file_kwargs) as folder:
            copy = os.path.join(folder, self.tmp_name)
            copy_path(self.path, copy)
            yield copy

    @contextmanager
    def temporary_path(self, task: Any = None, **tmp_file_kwargs: Any) -> Iterator[str]:
        """A path in scratch_dir to write this output to; moved into place atomically only if the block succeeds."""
        staging = OutputStaging(_scratch_dir(task))
        path = staging.path_for(self.path, **tmp_file_kwargs)
        try:
            yield path
        except BaseException:
            staging.discard()
            raise
        staging.commit()


def _scratch_dir(task: Any) -> str:
    from b2core.settings import get_setting

    folder = get_setting("scratch_dir", task=task)
    os.makedirs(folder, exist_ok=True)
    return folder
