"""XRootDSystem: the primitives of b2core's RemoteFileSystem through the XRootD client bindings."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace

from b2core.errors import PermanentRemoteError, TransientRemoteError
from b2core.remote import RemoteFileSystem, RemoteStat, RemoteTarget, Transferred
from b2core.settings import get_setting
from b2core.settings_models import register_settings_model
from XRootD import client
from XRootD.client.flags import AccessMode, MkDirFlags, OpenFlags, QueryCode, StatInfoFlags
from XRootD.client.utils import AsyncResponseHandler

from b2core_xrootd.settings import XRootDSettings

SERVER_ERROR = 400  # the client's errErrorResponse: the server answered with an error number
NOT_FOUND = 3011
UNSUPPORTED = 3013  # e.g. "query chksum is not supported": the server offers no checksums
EXISTS = 3018
CHECKSUM_ERROR = 305  # the client's errCheckSumError: the copy engine's end-to-end checksums differ
# kXR_ error numbers worth another try: file locked, I/O error, no memory, server error, no server,
# checksum error, in progress, overloaded. Every other server answer is final (not authorized, ...).
TRANSIENT_ERRNOS = {3003, 3007, 3008, 3012, 3014, 3019, 3020, 3024}
# files up to this size travel with one open, write (or read) and close: the copy engine's set-up per job
# (about 0.5 ms) costs more than such a file's data
SMALL_TRANSFER = 8 * 1024 * 1024
FILE_MODE = AccessMode.UR | AccessMode.UW | AccessMode.GR | AccessMode.OR  # rw-r--r--, as xrdcp creates files

register_settings_model(XRootDSettings)  # its settings work even when the plugin hooks were not loaded


class XRootDSystem(RemoteFileSystem):
    """A file system on XRootD servers (root://host:port), e.g. EOS or dCache xrootd doors."""

    checksum_algorithm = "adler32"

    def url(self, path: str, door: str | None = None) -> str:
        """root://host:port//absolute/path, as XRootD spells it."""
        return f"{door or self.server_path}//{path.lstrip('/')}"

    def _client(self, door: str) -> client.FileSystem:
        clients = self.__dict__.setdefault("_clients", {})
        if door not in clients:
            client.EnvPutInt("ConnectionWindow", get_setting("xrootd_connection_window"))
            client.EnvPutInt("ConnectionRetry", 1)
            clients[door] = client.FileSystem(door)
        return clients[door]

    def _check(self, status: object, door: str, path: str, action: str) -> None:
        """Raise the core's transient or permanent error for a failed status, with the server's words."""
        if status.ok:
            return
        transient = status.code != SERVER_ERROR or status.errno in TRANSIENT_ERRNOS
        error = TransientRemoteError if transient else PermanentRemoteError
        raise error(self.url(path, door), action, status.message)

    def _stat(self, door: str, path: str) -> RemoteStat | None:
        status, info = self._client(door).stat(path, timeout=get_setting("xrootd_timeout"))
        if not status.ok and status.errno == NOT_FOUND:
            return None
        self._check(status, door, path, "check")
        return RemoteStat(size=info.size, is_dir=bool(info.flags & StatInfoFlags.IS_DIR))

    def _copy(self, source: str, target: str, door: str, path: str, action: str, end2end: bool = False) -> None:
        """One transfer through xrdcp's copy engine, overwriting; end2end: it compares both ends' adler32 itself."""
        process = client.CopyProcess()
        checks = {"checksummode": "end2end", "checksumtype": self.checksum_algorithm} if end2end else {}
        process.add_job(source, target, force=True, **checks)
        self._check(process.prepare(), door, path, action)
        status, results = process.run()
        result = results[0] if results else {}
        if end2end and result.get("status") and result["status"].code == CHECKSUM_ERROR:
            ends = [result.get(f"{side}CheckSum", "?").rpartition(":")[2] for side in ("source", "target")]
            remote, local = ends if source.startswith(door) else ends[::-1]
            problem = f"{self.checksum_algorithm} differs: local {local}, server {remote} (the copy engine's check)"
            raise TransientRemoteError(self.url(path, door), action, problem)
        self._check(status, door, path, action)
        self._check(result["status"], door, path, action)

    def _upload(self, door: str, local_path: str, path: str) -> Transferred | None:
        if os.path.getsize(local_path) > SMALL_TRANSFER:
            self._copy(os.path.abspath(local_path), self.url(path, door), door, path, "upload to")
            return None
        with open(local_path, "rb") as stream:
            data = stream.read()
        timeout = get_setting("xrootd_timeout")
        remote = client.File()
        self._check(
            remote.open(self.url(path, door), OpenFlags.DELETE, FILE_MODE, timeout=timeout)[0], door, path, "upload to"
        )
        try:
            self._check(remote.write(data, timeout=timeout)[0], door, path, "upload to")
        finally:
            closed, _ = remote.close(timeout=timeout)
        self._check(closed, door, path, "upload to")
        return Transferred(size=len(data))  # the new file took all bytes at offset 0 and closed: no stat needed

    def _download(self, door: str, path: str, local_path: str) -> Transferred:
        timeout = get_setting("xrootd_timeout")
        checksum = self._checksum_soon(door, path) if self._wants_checksum(door) else None  # while the file opens
        remote = client.File()
        self._check(remote.open(self.url(path, door), OpenFlags.READ, timeout=timeout)[0], door, path, "download")
        try:
            status, info = remote.stat(timeout=timeout)  # answered from the open's reply, no round trip
            self._check(status, door, path, "download")
            data = None
            if info.size <= SMALL_TRANSFER:
                status, data = remote.read(0, info.size, timeout=timeout)
                self._check(status, door, path, "download")
        finally:
            remote.close(timeout=timeout)
        server = checksum() if checksum else None
        offered_none = checksum is not None and server is None
        known = Transferred(size=info.size, checksum=server, no_checksum_offered=offered_none)
        if data is None:  # the engine compares the checksums itself where the server offers one
            self._copy(self.url(path, door), os.path.abspath(local_path), door, path, "download", server is not None)
            return replace(known, verified=server is not None)
        with open(local_path, "wb") as stream:
            stream.write(data)
        return known

    def _rename(self, door: str, path: str, dest: str) -> None:
        status, _ = self._client(door).mv(path, dest, timeout=get_setting("xrootd_timeout"))
        self._check(status, door, dest, f"rename {path} onto")

    def _mkdir(self, door: str, path: str) -> None:
        status, _ = self._client(door).mkdir(path, MkDirFlags.MAKEPATH, timeout=get_setting("xrootd_timeout"))
        if status.ok or status.errno == EXISTS:
            return
        self._check(status, door, path, "create the folder")

    def _remove_file(self, door: str, path: str) -> None:
        status, _ = self._client(door).rm(path, timeout=get_setting("xrootd_timeout"))
        self._check(status, door, path, "remove")

    def _remove_empty_dir(self, door: str, path: str) -> None:
        status, _ = self._client(door).rmdir(path, timeout=get_setting("xrootd_timeout"))
        self._check(status, door, path, "remove the folder")

    def _listdir(self, door: str, path: str) -> list[str]:
        status, listing = self._client(door).dirlist(path, timeout=get_setting("xrootd_timeout"))
        self._check(status, door, path, "list")
        return [entry.name for entry in listing]

    def _checksum(self, door: str, path: str) -> str | None:
        status, answer = self._client(door).query(QueryCode.CHECKSUM, path, timeout=get_setting("xrootd_timeout"))
        return self._checksum_answer(status, answer, door, path)

    def _checksum_soon(self, door: str, path: str) -> Callable[[], str | None]:
        """Send the checksum query now and return what waits for its answer: it travels while the data does."""
        handler = AsyncResponseHandler()
        timeout = get_setting("xrootd_timeout")
        sent = self._client(door).query(QueryCode.CHECKSUM, path, timeout=timeout, callback=handler)
        if not sent.ok:  # never queued, so no answer will come
            return lambda: self._checksum_answer(sent, None, door, path)
        return lambda: self._checksum_answer(*handler.wait()[:2], door, path)

    def _checksum_answer(self, status: object, answer: bytes | None, door: str, path: str) -> str | None:
        """The adler32 of a checksum query's answer; None if the server offers no checksums or another kind."""
        if not status.ok and status.errno == UNSUPPORTED:
            return None
        self._check(status, door, path, "checksum")
        algorithm, _, value = answer.decode().strip("\x00 \n").partition(" ")
        return value if algorithm == self.checksum_algorithm else None

    def _locate(self, door: str, path: str) -> list[str]:
        status, locations = self._client(door).locate(path, OpenFlags.NONE, timeout=get_setting("xrootd_timeout"))
        self._check(status, door, path, "locate")
        return [f"root://{location.address}" for location in locations]


class XRootDTarget(RemoteTarget):
    """An output on an XRootD server: ``add_to_output("f.root", XRootDTarget, file_system=fs)``."""
