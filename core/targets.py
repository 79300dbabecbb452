"""Targets: luigi's LocalTarget, which removes directories as well as files."""

from __future__ import annotations

import os
import shutil

import luigi


class LocalTarget(luigi.LocalTarget):
    """A file or folder on a shared file system."""

    def remove(self) -> None:
        """Remove the file, or the whole folder for folder outputs."""
        if os.path.isdir(self.path) and not os.path.islink(self.path):
            shutil.rmtree(self.path)
        elif os.path.lexists(self.path):
            os.remove(self.path)

    def makedirs(self) -> None:
        """Create the parent folder so run() can write the output."""
        parent = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
