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
# Backends that raise a bare OSError for a missing path (fsspec-xrootd: "[3011] ... no such file or directory")
NOT_FOUND_WORDS = re.compile(r"no such file|not found", re.IGNORECASE)


def is_not_found(error: BaseException) -> bool:
    """Whether a backend's exception says the path does not exist, typed or only in words."""
    if isinstance(error, FileNotFoundError):
        return True
    return type(error) is OSError and error.errno is None and bool(NOT_FOUND_WORDS.search(str(error)))


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

    @contextmanager
    def _on(self, door: str, path: str, action: str) -> Iterator[tuple[AbstractFileSystem, str]]:
        """The door's file system (fsspec's, cached per thread) and the path as it spells it; the backend's
        exceptions become the core's transient or permanent errors, keeping its words."""
        fs = None
        try:
            fs, root = url_to_fs(door)
            yield fs, _joined(root, path)
        except (OSError, EOFError) as error:  # EOFError: a connection closed in mid-answer (ftplib)
            if isinstance(error, PERMANENT) or is_not_found(error):
                raise PermanentRemoteError(self.url(path, door), action, f"{type(error).__name__}: {error}") from error
            if fs is not None:  # timeouts, refused or lost connections: the retry connects anew
                type(fs).clear_instance_cache()
            raise TransientRemoteError(self.url(path, door), action, f"{type(error).__name__}: {error}") from error
        except Exception as error:  # ValueError, NotImplementedError, ...: a retry would answer the same
            raise PermanentRemoteError(self.url(path, door), action, f"{type(error).__name__}: {error}") from error

    def _stat(self, door: str, path: str) -> RemoteStat | None:
        with self._on(door, path, "check") as (fs, target):
            try:
                info = fs.info(target)
            except OSError as error:
                if is_not_found(error):
                    return None
                raise
        return RemoteStat(size=info.get("size") or 0, is_dir=info.get("type") == "directory")

    def _upload(self, door: str, local_path: str, path: str) -> None:
        with self._on(door, path, "upload to") as (fs, target):
            _makedirs(fs, fs._parent(target))  # a missing folder is created, as on XRootD
            fs.put_file(local_path, target)

    def _download(self, door: str, path: str, local_path: str) -> None:
        with self._on(door, path, "download") as (fs, source):
            fs.get_file(source, local_path)

    def _rename(self, door: str, path: str, dest: str) -> None:
        with self._on(door, dest, f"rename {path} onto") as (fs, target):
            fs.mv(_joined(url_to_fs(door)[1], path), target)

    def _mkdir(self, door: str, path: str) -> None:
        with self._on(door, path, "create the folder") as (fs, target):
            _makedirs(fs, target)

    def _remove_file(self, door: str, path: str) -> None:
        with self._on(door, path, "remove") as (fs, target):
            fs.rm_file(target)

    def _remove_empty_dir(self, door: str, path: str) -> None:
        with self._on(door, path, "remove the folder") as (fs, target):
            fs.rmdir(target)

    def _listdir(self, door: str, path: str) -> list[str]:
        with self._on(door, path, "list") as (fs, target):
            return [posixpath.basename(entry.rstrip("/")) for entry in fs.ls(target, detail=False)]

    def _checksum(self, door: str, path: str) -> str | None:
        """The content md5 where the backend's info() reports one; fs.checksum() only hashes metadata."""
        with self._on(door, path, "checksum") as (fs, target):
            info = fs.info(target)
        value = str(info.get("md5") or "").strip('"').lower()
        return value if MD5.fullmatch(value) else None


def _makedirs(fs: AbstractFileSystem, folder: str) -> None:
    """Create a folder and its parents; other jobs creating some of them at the same time is fine.

    Some backends check, then create (fsspec's ftp:// answers '550 File exists' to the slower of two
    and stops there), so after such an answer it goes again: each time at least one more level exists.
    """
    for _ in range(folder.count("/")):
        try:
            fs.makedirs(folder, exist_ok=True)
            return
        except Exception:
            fs.invalidate_cache()  # listings cached before the other job made its folder
            if fs.isdir(folder):
                return
    fs.makedirs(folder, exist_ok=True)


def _joined(root: str, path: str) -> str:
    """A path below a door's root, as fsspec spells it."""
    return f"{root.rstrip('/')}/{path.lstrip('/')}"


class FsspecTarget(RemoteTarget):
    """An output on an fsspec file system: ``add_to_output("f.root", FsspecTarget, file_system=fs)``."""
