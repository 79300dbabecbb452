"""FsspecSystem: the primitives of b2core's RemoteFileSystem, once, over fsspec's AbstractFileSystem."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import fsspec
from b2core.errors import PermanentRemoteError, SettingsError, TransientRemoteError
from b2core.remote import RemoteFileSystem, RemoteStat, RemoteTarget
from fsspec.core import url_to_fs
from fsspec.spec import AbstractFileSystem

# Answers retrying cannot change; any other OSError (timeouts, lost connections, I/O errors) may pass.
PERMANENT = (FileNotFoundError, PermissionError, FileExistsError, IsADirectoryError, NotADirectoryError)
MD5 = re.compile(r"[0-9a-f]{32}")


class FsspecSystem(RemoteFileSystem):
    """A file system reached through fsspec, e.g. FsspecSystem("s3://bucket") or "file:///data"."""

    checksum_algorithm = "md5"  # only used where the backend's info() carries a content md5

    def __init__(self, server_path: str | Sequence[str]) -> None:
        super().__init__(server_path)
        for door in self.doors:
            scheme = door.partition("://")[0]
            try:
                fsspec.get_filesystem_class(scheme)
            except (ImportError, ValueError) as error:
                raise SettingsError(f"fsspec cannot serve {door}: {error}") from error

    def _fs(self, door: str, path: str) -> tuple[AbstractFileSystem, str]:
        """fsspec's file system of a door (cached by fsspec) and the path as it spells it."""
        fs, root = url_to_fs(door)
        return fs, f"{root.rstrip('/')}/{path.lstrip('/')}"

    @contextmanager
    def _errors(self, door: str, path: str, action: str) -> Iterator[None]:
        """Turn the backend's exceptions into the core's transient or permanent errors, keeping its words."""
        try:
            yield
        except PERMANENT as error:
            raise PermanentRemoteError(self.url(path, door), action, f"{type(error).__name__}: {error}") from error
        except OSError as error:
            raise TransientRemoteError(self.url(path, door), action, f"{type(error).__name__}: {error}") from error
        except Exception as error:  # ValueError, NotImplementedError, ...: a retry would answer the same
            raise PermanentRemoteError(self.url(path, door), action, f"{type(error).__name__}: {error}") from error

    def _stat(self, door: str, path: str) -> RemoteStat | None:
        fs, target = self._fs(door, path)
        with self._errors(door, path, "check"):
            try:
                info = fs.info(target)
            except FileNotFoundError:
                return None
        return RemoteStat(size=info.get("size") or 0, is_dir=info.get("type") == "directory")

    def _upload(self, door: str, local_path: str, path: str) -> None:
        fs, target = self._fs(door, path)
        with self._errors(door, path, "upload to"):
            fs.makedirs(fs._parent(target), exist_ok=True)  # a missing folder is created, as on XRootD
            fs.put_file(local_path, target)

    def _download(self, door: str, path: str, local_path: str) -> None:
        fs, source = self._fs(door, path)
        with self._errors(door, path, "download"):
            fs.get_file(source, local_path)

    def _rename(self, door: str, path: str, dest: str) -> None:
        fs, source = self._fs(door, path)
        with self._errors(door, dest, f"rename {path} onto"):
            fs.mv(source, self._fs(door, dest)[1])

    def _mkdir(self, door: str, path: str) -> None:
        fs, target = self._fs(door, path)
        with self._errors(door, path, "create the folder"):
            fs.makedirs(target, exist_ok=True)

    def _remove_file(self, door: str, path: str) -> None:
        fs, target = self._fs(door, path)
        with self._errors(door, path, "remove"):
            fs.rm_file(target)

    def _remove_empty_dir(self, door: str, path: str) -> None:
        fs, target = self._fs(door, path)
        with self._errors(door, path, "remove the folder"):
            fs.rmdir(target)

    def _listdir(self, door: str, path: str) -> list[str]:
        fs, target = self._fs(door, path)
        with self._errors(door, path, "list"):
            return [posixpath.basename(entry.rstrip("/")) for entry in fs.ls(target, detail=False)]

    def _checksum(self, door: str, path: str) -> str | None:
        """The content md5 where the backend's info() reports one; fs.checksum() only hashes metadata."""
        fs, target = self._fs(door, path)
        with self._errors(door, path, "checksum"):
            info = fs.info(target)
        value = str(info.get("md5") or "").strip('"').lower()
        return value if MD5.fullmatch(value) else None


class FsspecTarget(RemoteTarget):
    """An output on an fsspec file system: ``add_to_output("f.root", FsspecTarget, file_system=fs)``."""
