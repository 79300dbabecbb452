"""b2luigi's RemoteTarget: an output on a remote file system, written locally and published atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import luigi.format
import luigi.target
from b2core.remote.filesystem import RemoteFileSystem
from b2core.remote.registry import file_system_for
from b2core.settings import get_setting
from b2core.staging import temporary_name


class RemoteTarget(luigi.target.FileSystemTarget):
    """A file at `path` on `file_system` (a RemoteFileSystem, or a URL such as 'root://host:1094')."""

    def __init__(self, path: str, file_system: RemoteFileSystem | str) -> None:
        super().__init__(path)
        self._fs = file_system if isinstance(file_system, RemoteFileSystem) else file_system_for(file_system)

    @property
    def fs(self) -> RemoteFileSystem:
        """The file system the target lives on."""
        return self._fs

    @property
    def base_name(self) -> str:
        """The file name without folders."""
        return os.path.basename(self.path)

    @property
    def url(self) -> str:
        """The full URL, for messages and --show-output."""
        return self._fs.url(self.path)

    def makedirs(self) -> None:
        """Create the parent folder on the server, so publishing cannot fail for a missing folder."""
        self._fs.mkdir(os.path.dirname(self.path))

    def get(self, path: str = "~") -> str:
        """Download into the folder `path`; returns the local file name."""
        local = os.path.join(os.path.expanduser(path), self.base_name)
        self._fs.copy_file_from_remote(self.path, local)
        return local

    def download_to(self, folder: str) -> str:
        """Download into `folder` (created if needed); returns the local file name."""
        return self.get(folder)

    @contextmanager
    def get_temporary_input(self, task: Any = None) -> Iterator[str]:
        """A local copy in a fresh scratch folder, removed afterwards."""
        folder = tempfile.mkdtemp(prefix="b2core-input-", dir=_scratch(task))
        try:
            yield self.get(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @contextmanager
    def temporary_path(self, task: Any = None) -> Iterator[str]:
        """A local scratch path to write; published to the server only if the block succeeds."""
        folder = tempfile.mkdtemp(prefix="b2core-output-", dir=_scratch(task))
        try:
            local = temporary_name(os.path.join(folder, self.base_name))
            yield local
            self.publish(local)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def publish(self, local_path: str) -> None:
        """Make the written local file this target: uploaded to a temporary name, then renamed."""
        self._fs.copy_file_to_remote(local_path, self.path, force=True)

    def open(self, mode: str = "r") -> IO[Any]:
        """Read a downloaded copy, or write a local file that is published when closed without error."""
        rwmode = mode.replace("b", "").replace("t", "")
        if rwmode == "w":
            self.makedirs()
            text_or_binary = luigi.format.Nop if "b" in mode else luigi.format.get_default_format()
            return text_or_binary.pipe_writer(_PublishOnClose(self))
        if rwmode != "r":
            raise ValueError(f"RemoteTarget.open supports the modes 'r' and 'w', not {mode!r}")
        folder = tempfile.mkdtemp(prefix="b2core-input-", dir=_scratch(None))
        local = self.get(folder)
        stream = open(local, mode)  # noqa: SIM115  (handed to the caller, who closes it)
        shutil.rmtree(folder)  # the open stream keeps the data; nothing is left behind
        return stream


class _PublishOnClose(luigi.target.AtomicLocalFile):
    """luigi's atomic local file, published to the remote target when closed without an error."""

    def __init__(self, target: RemoteTarget) -> None:
        self.target = target
        super().__init__(target.path)

    def generate_tmp_path(self, path: str) -> str:
        folder = tempfile.mkdtemp(prefix="b2core-output-", dir=_scratch(None))
        return os.path.join(folder, self.target.base_name)

    def move_to_final_destination(self) -> None:
        try:
            self.target.publish(self.tmp_path)
        finally:
            shutil.rmtree(os.path.dirname(self.tmp_path), ignore_errors=True)


def _scratch(task: Any) -> str:
    folder = get_setting("scratch_dir", task=task)
    os.makedirs(folder, exist_ok=True)
    return folder
