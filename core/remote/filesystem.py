"""b2luigi's RemoteFileSystem API, done once for every protocol: retries, several doors, atomic uploads.

A protocol plugin subclasses RemoteFileSystem and implements only the primitives (``_stat``,
``_upload``, ``_download``, ...), raising TransientRemoteError or PermanentRemoteError. Everything
users call is here: each operation is retried with tenacity on transient errors, moving to the next
door (server) each time; uploads go to a temporary name, are verified, then renamed server-side.
A transfer primitive may return a Transferred saying what its own replies established, so that the
verification afterwards asks the server only for what is still unknown.
"""

from __future__ import annotations

import logging
import os
import posixpath
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import luigi.target
from b2core.errors import PermanentRemoteError, RemoteError, SettingsError, TransientRemoteError
from b2core.leftovers import final_name
from b2core.remote.checksums import local_checksum
from b2core.settings import get_setting
from b2core.staging import temporary_name
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

logger = logging.getLogger("b2core")
OVERLAP_CHECKSUM = 64 * 1024 * 1024  # from this size on, the local checksum runs during the upload
Result = TypeVar("Result")


@dataclass(frozen=True)
class RemoteStat:
    """What a server says about a path."""

    size: int
    is_dir: bool


@dataclass(frozen=True)
class Transferred:
    """What an ``_upload`` or ``_download`` learnt on the way, so verifying it costs no second request."""

    #: the file's size on the server as the transfer's own replies gave it (None: stat it afterwards)
    size: int | None = None
    #: the server's checksum in ``checksum_algorithm`` from the transfer's replies (None: ask afterwards);
    #: the core still compares it with the local file's
    checksum: str | None = None
    #: True if the transfer asked the server for its checksum and the server offers none: the door is
    #: then checked by size only from now on, without a second question
    no_checksum_offered: bool = False
    #: True only if the transfer itself compared the checksums of both ends (XRootD's end-to-end copy)
    verified: bool = False


class RemoteFileSystem(luigi.target.FileSystem):
    """A remote storage reached through one or more doors (servers) tried in turn."""

    #: the algorithm of the server's ``_checksum`` answers (e.g. "adler32"), None if it offers none
    checksum_algorithm: ClassVar[str | None] = None
    #: True when a transfer that succeeded cannot have moved fewer bytes (HTTP's Content-Length), so
    #: the size needs no extra request afterwards
    transfer_checks_size: ClassVar[bool] = False
    #: whether a door not asked yet is assumed to answer checksums, so that the first large upload to it
    #: computes the local one while the file travels; False (servers that often offer none, as WebDAV
    #: without RFC 3230 digests): the first upload asks the server first and checksums locally only if
    #: it answered, later uploads to a door that answered overlap
    checksums_expected: ClassVar[bool] = True

    def __init__(self, server_path: str | Sequence[str]) -> None:
        doors = [server_path] if isinstance(server_path, str) else list(server_path)
        if not doors or not all(isinstance(door, str) and "://" in door for door in doors):
            raise SettingsError(f"{type(self).__name__} needs server URLs like 'root://host:1094', got {server_path!r}")
        self.doors = [door.rstrip("/") for door in doors]
        self._door = 0

    @property
    def server_path(self) -> str:
        """The door in use now."""
        return self.doors[self._door]

    def url(self, path: str, door: str | None = None) -> str:
        """The full URL of a path on a door (the current one by default)."""
        return f"{door or self.server_path}/{path.lstrip('/')}"

    # --- b2luigi's API ------------------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        """Whether the path exists on the server."""
        return self._retried("check", path, self._stat, path) is not None

    def isdir(self, path: str) -> bool:
        """Whether the path is a folder on the server."""
        stat = self._retried("check", path, self._stat, path)
        return stat is not None and stat.is_dir

    def copy_file_to_remote(self, local_path: str, remote_path: str, force: bool = False) -> None:
        """Upload atomically: to a temporary name, verified, then renamed server-side onto remote_path."""
        if not force and self.exists(remote_path):
            raise PermanentRemoteError(self.url(remote_path), "upload to", "it exists already (use force=True)")
        temporary = temporary_name(remote_path)
        try:
            self._retried("upload to", temporary, self._verified_upload, local_path, temporary)
            self._retried("rename onto", remote_path, self._rename, temporary, remote_path)
        except RemoteError as error:
            self._forget(temporary)
            words = f"{error.server_message} (uploading as {posixpath.basename(temporary)} first)"
            raise type(error)(self.url(remote_path), "upload to", words) from error
        except BaseException:
            self._forget(temporary)
            raise

    def copy_file_from_remote(self, remote_path: str, local_path: str) -> None:
        """Download to a temporary local name, verified, then renamed to local_path."""
        os.makedirs(os.path.dirname(os.path.abspath(local_path)), exist_ok=True)
        temporary = temporary_name(local_path)
        try:
            self._retried("download", remote_path, self._verified_download, remote_path, temporary)
            os.replace(temporary, local_path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    def copy_dir_from_remote(self, remote_path: str, local_path: str) -> None:
        """Download a folder tree."""
        os.makedirs(local_path, exist_ok=True)
        for name in self._retried("list", remote_path, self._listdir, remote_path):
            source = posixpath.join(remote_path, name)
            if self.isdir(source):
                self.copy_dir_from_remote(source, os.path.join(local_path, name))
            else:
                self.copy_file_from_remote(source, os.path.join(local_path, name))

    def move(self, path: str, dest: str, raise_if_exists: bool = False) -> None:
        """Rename server-side."""
        if raise_if_exists and self.exists(dest):
            raise PermanentRemoteError(self.url(dest), "move onto", "it exists already")
        self._retried("move", path, self._rename, path, dest)

    def rename_dont_move(self, path: str, dest: str) -> None:
        """b2luigi's meaning: publish the local file `path` as the remote `dest`, replacing it."""
        self.copy_file_to_remote(path, dest, force=True)

    def mkdir(self, path: str, parents: bool = True, raise_if_exists: bool = False) -> None:
        """Create a folder and its parents; an existing one is fine unless raise_if_exists."""
        if raise_if_exists and self.exists(path):
            raise luigi.target.FileAlreadyExists(self.url(path))
        self._retried("create the folder", path, self._mkdir, path)

    def locate(self, path: str) -> list[str]:
        """The URLs of the servers that hold the path."""
        return self._retried("locate", path, self._locate, path)

    def listdir(self, path: str) -> list[str]:
        """The paths in a folder."""
        return [posixpath.join(path, name) for name in self._retried("list", path, self._listdir, path)]

    def remove(self, path: str, recursive: bool = True, skip_trash: bool = True) -> None:
        """Remove a file, or a folder with everything in it."""
        stat = self._retried("check", path, self._stat, path)
        if stat is None:
            return
        if stat.is_dir:
            if not recursive:
                raise PermanentRemoteError(self.url(path), "remove", "it is a folder (use recursive=True)")
            self.remove_dir(path)
        else:
            self._retried("remove", path, self._remove_file, path)

    def remove_dir(self, path: str) -> None:
        """Remove a folder and everything in it."""
        for child in self.listdir(path):
            self.remove(child)
        self._retried("remove the folder", path, self._remove_empty_dir, path)

    def remove_stale_temporaries(self, folder: str, names: Collection[str]) -> int:
        """Delete the temporary uploads of these file names in folder, left by killed jobs; returns how many."""
        try:
            entries = self._retried("list", folder, self._listdir, folder)
        except RemoteError as error:  # no folder yet, or no server: then there is nothing to clean now
            logger.debug("Could not look for stale temporary uploads in %s: %s", self.url(folder), error)
            return 0
        stale = [posixpath.join(folder, entry) for entry in entries if final_name(entry) in names]
        for path in stale:
            self._retried("remove", path, self._remove_file, path)
            logger.info("Removed %s, a temporary upload that a killed job left", self.url(path))
        return len(stale)

    def checksum(self, path: str) -> str | None:
        """The server's checksum of a file in `checksum_algorithm`, or None if it offers none."""
        return self._retried("checksum", path, self._checksum, path)

    # --- primitives a protocol implements (door is a server URL, path absolute) -------------------

    def _stat(self, door: str, path: str) -> RemoteStat | None:
        raise NotImplementedError

    def _upload(self, door: str, local_path: str, path: str) -> Transferred | None:
        raise NotImplementedError

    def _download(self, door: str, path: str, local_path: str) -> Transferred | None:
        raise NotImplementedError

    def _rename(self, door: str, path: str, dest: str) -> None:
        raise NotImplementedError

    def _mkdir(self, door: str, path: str) -> None:
        raise NotImplementedError

    def _remove_file(self, door: str, path: str) -> None:
        raise NotImplementedError

    def _remove_empty_dir(self, door: str, path: str) -> None:
        raise NotImplementedError

    def _listdir(self, door: str, path: str) -> list[str]:
        raise NotImplementedError

    def _checksum(self, door: str, path: str) -> str | None:
        return None

    def _locate(self, door: str, path: str) -> list[str]:
        return [self.url(path, door)]

    # --- machinery ---------------------------------------------------------------------------------

    def _verified_upload(self, door: str, local_path: str, path: str) -> None:
        """Upload, then verify; a large file's local checksum runs while it travels if the door will want it."""
        if os.path.getsize(local_path) < OVERLAP_CHECKSUM or not self._expects_checksum(door):
            known = self._upload(door, local_path, path)
            self._verify(door, path, local_path, "upload to", known=known)
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            local = pool.submit(local_checksum, local_path, self.checksum_algorithm)
            known = self._upload(door, local_path, path)
            self._verify(door, path, local_path, "upload to", local.result(), known)

    def _verified_download(self, door: str, path: str, local_path: str) -> None:
        known = self._download(door, path, local_path)
        self._verify(door, path, local_path, "download", known=known)

    def _expects_checksum(self, door: str) -> bool:
        """Whether the door will answer a checksum: known from an earlier answer, else the protocol's guess."""
        offered = self.__dict__.setdefault("_checksum_doors", set())  # doors that answered one
        return self._wants_checksum(door) and (door in offered or self.checksums_expected)

    def _wants_checksum(self, door: str) -> bool:
        """Whether checksums are compared on this door, so a primitive may fetch the server's during a transfer."""
        silent = self.__dict__.setdefault("_no_checksums", set())  # doors that offered none: not asked again
        return self.checksum_algorithm is not None and door not in silent and get_setting("remote_verify_checksums")

    def _verify(
        self,
        door: str,
        path: str,
        local_path: str,
        action: str,
        local: str | None = None,
        known: Transferred | None = None,
    ) -> None:
        """Compare size and the checksum the server offers, asking only what the transfer did not tell; retried."""
        known = known or Transferred()
        if known.verified:
            return
        if not self.transfer_checks_size:
            size = os.path.getsize(local_path)
            if known.size is None:
                stat = self._stat(door, path)
                found = None if stat is None else stat.size
            else:
                found = known.size
            if found != size:
                problem = f"size differs: local {size} bytes, server {'no file' if found is None else f'{found} bytes'}"
                raise TransientRemoteError(self.url(path, door), action, problem)
        if not self._wants_checksum(door):
            return
        remote = None if known.no_checksum_offered else known.checksum or self._checksum(door, path)
        if remote is None:
            self.__dict__["_no_checksums"].add(door)
            return
        self.__dict__.setdefault("_checksum_doors", set()).add(door)
        local = local or local_checksum(local_path, self.checksum_algorithm)
        if int(remote, 16) != int(local, 16):
            raise TransientRemoteError(
                self.url(path, door), action, f"{self.checksum_algorithm} differs: local {local}, server {remote}"
            )

    def _forget(self, path: str) -> None:
        """Best-effort removal of a temporary upload; the final name was never touched."""
        try:
            self._remove_file(self.server_path, path)
        except Exception as error:  # the upload's own error is the one to report
            logger.debug("Could not remove the temporary upload %s: %s", self.url(path), error)

    def _retried(self, action: str, path: str, primitive: Callable[..., Result], *args: Any) -> Result:
        """Call a primitive on the current door; transient errors retry on the next door, with backoff.

        The first attempt runs without tenacity: nearly every call succeeds at once, and setting up the
        retry loop (and reading its two settings) costs more CPU than a small request to a nearby door.
        """
        try:
            return primitive(self.server_path, *args)
        except TransientRemoteError as error:
            failed = error
        attempts = get_setting("remote_retries") + 1
        wait = get_setting("remote_retry_wait")
        first_wait = min(wait, 60)  # what tenacity's wait gives after attempt 1
        try:
            if attempts < 2:
                raise failed
            self._move_on(failed, first_wait, attempt=2)
            time.sleep(first_wait)
            retrying = Retrying(
                stop=stop_after_attempt(attempts - 1),
                wait=wait_exponential(multiplier=2 * wait, max=60),  # its attempt k is attempt k + 1 overall
                retry=retry_if_exception_type(TransientRemoteError),
                before_sleep=self._next_door,
                reraise=True,
            )
            return retrying(lambda: primitive(self.server_path, *args))
        except TransientRemoteError as error:
            doors = ", ".join(self.doors)
            raise TransientRemoteError(
                error.url, error.action, f"{error.server_message} (gave up after {attempts} attempts on {doors})"
            ) from error

    def _next_door(self, state: RetryCallState) -> None:
        """tenacity's before_sleep: its attempts start at the second one overall."""
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0
        self._move_on(error, wait, attempt=state.attempt_number + 2)

    def _move_on(self, error: BaseException | None, wait: float, attempt: int) -> None:
        """Switch to the next door and say so, before waiting for the given attempt."""
        self._door = (self._door + 1) % len(self.doors)
        logger.warning("%s; retrying on %s in %.1f s (attempt %d)", error, self.server_path, wait, attempt)
