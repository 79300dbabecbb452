"""Noticing that a settings file appeared, changed or went away, cheaply enough to ask on every lookup.

On Linux an inotify watch on the folders of the search path answers with one poll() (well under a
microsecond); elsewhere, or when inotify is not available, one stat() per watched path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import sys
import threading
import time
from pathlib import Path

# a change this recent may share its timestamp with the next one, so the stat() fallback does not trust it
SETTLE_NS = 50_000_000
Signature = tuple[int, int, int] | None  # (mtime_ns, size, inode) of a file or folder, None if missing

_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF, _IN_Q_OVERFLOW, _IN_IGNORED = 0x400, 0x800, 0x4000, 0x8000
_FOLDER_EVENTS = _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
_SELF_EVENTS = _IN_DELETE_SELF | _IN_MOVE_SELF
_FILE_EVENTS = _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _SELF_EVENTS
_EVENT = struct.Struct("iIII")


def signature(path: Path | str) -> Signature:
    """What changes when a file or folder changes (a folder's mtime changes when an entry is added or removed)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def settled(sig: Signature) -> bool:
    """False for a change so recent that a next one could keep the same signature."""
    return sig is None or abs(time.time_ns() - sig[0]) > SETTLE_NS


def _watched_spots(paths: list[Path]) -> list[tuple[Path, str, Path | None]]:
    """(existing folder, entry name to look out for, existing file) for each path: the file's folder, or the
    nearest existing folder above a missing file with the name of the next path component."""
    spots = []
    for path in paths:
        if os.path.lexists(path):
            spots.append((path.parent, path.name, path))
            continue
        child = path
        while not os.path.isdir(child.parent) and child.parent != child:
            child = child.parent
        spots.append((child.parent, child.name, None))
    return spots


class SettingsWatch:
    """Whether any of some settings file paths may have changed since this watch was made."""

    def __init__(self, paths: list[Path]) -> None:
        self.pid = os.getpid()
        self.spots = _watched_spots(paths)
        self._changed = False
        self._lock = threading.Lock()
        self._fd = _inotify_watch(self.spots)
        if self._fd is None:
            self._signatures = [(p, signature(p)) for spot in self.spots for p in (spot[0], spot[2]) if p]
        else:
            self._fd, self._names, self._file_watches = self._fd
            self._poll = select.poll()
            self._poll.register(self._fd, select.POLLIN)

    def trustworthy(self) -> bool:
        """False when the stat() fallback saw a change too recent to rely on (re-check at every lookup then)."""
        return self._fd is not None or all(settled(sig) for _, sig in self._signatures)

    def changed(self) -> bool:
        """True once anything watched may have changed; a forked child never shares the parent's events."""
        if self._changed or os.getpid() != self.pid:
            return True
        if self._fd is None:
            self._changed = any(signature(path) != sig for path, sig in self._signatures)
            return self._changed
        with self._lock:  # one poll object answers several threads (parallel downloads): poll() under the lock
            if not self._changed and self._poll.poll(0):
                self._changed = self._relevant(os.read(self._fd, 65536))
            return self._changed

    def _relevant(self, data: bytes) -> bool:
        offset = 0
        while offset < len(data):
            wd, mask, _, length = _EVENT.unpack_from(data, offset)
            name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0").decode(errors="replace")
            offset += _EVENT.size + length
            if mask & (_IN_Q_OVERFLOW | _IN_IGNORED | _SELF_EVENTS) or wd in self._file_watches:
                return True
            if name in self._names.get(wd, ()):
                return True
        return False

    def close(self) -> None:
        """Release the inotify descriptor."""
        if self._fd is not None and os.getpid() == self.pid:
            os.close(self._fd)
            self._fd = None
            self._changed = True


def _inotify_watch(spots: list[tuple[Path, str, Path | None]]) -> tuple[int, dict[int, set[str]], set[int]] | None:
    """An inotify descriptor watching the spots (names per folder watch, file watches), or None where unavailable."""
    if not sys.platform.startswith("linux"):
        return None
    libc = _libc()
    if libc is None:
        return None
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    if fd < 0:
        return None
    names: dict[int, set[str]] = {}
    files: set[int] = set()
    for folder, name, file in spots:
        wd = libc.inotify_add_watch(fd, os.fsencode(folder), _FOLDER_EVENTS | _SELF_EVENTS)
        if wd < 0:
            os.close(fd)
            return None
        names.setdefault(wd, set()).add(name)
        if file is not None:
            file_wd = libc.inotify_add_watch(fd, os.fsencode(file), _FILE_EVENTS)  # follows symlinks
            if file_wd >= 0:
                files.add(file_wd)
    return fd, names, files


_libc_handle: list[ctypes.CDLL | None] = []


def _libc() -> ctypes.CDLL | None:
    if not _libc_handle:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            libc.inotify_init1.argtypes = [ctypes.c_int]
            libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
        except (OSError, AttributeError):
            libc = None
        _libc_handle.append(libc)
    return _libc_handle[0]
