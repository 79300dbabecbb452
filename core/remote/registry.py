"""Protocols by URL scheme, from the ``b2core.filesystems`` entry points, imported only when used.

A protocol distribution registers its RemoteFileSystem subclass under each scheme it serves
(``root = "b2core_xrootd:XRootDSystem"``); the entry point named ``default`` (if any) serves every
scheme nobody claims. ``import b2core`` therefore imports no protocol client library.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib import metadata
from typing import Any

from b2core.errors import SettingsError
from stevedore import DriverManager

FILESYSTEM_GROUP = "b2core.filesystems"
DEFAULT = "default"


def installed_file_systems() -> dict[str, metadata.EntryPoint]:
    """Scheme to entry point, from installed metadata, importing nothing."""
    return {ep.name: ep for ep in metadata.entry_points(group=FILESYSTEM_GROUP)}


@cache
def file_system_class(scheme: str) -> type:
    """The RemoteFileSystem subclass serving a URL scheme; unknown schemes say what to install."""
    from b2core.remote.filesystem import RemoteFileSystem

    installed = installed_file_systems()
    name = scheme if scheme in installed else DEFAULT
    if name not in installed:
        known = ", ".join(f"{s}://" for s in sorted(installed)) or "none"
        raise SettingsError(
            f"No remote file system serves '{scheme}://' URLs (installed: {known}); install one, "
            "e.g. pip install b2core-xrootd (root://), b2core-webdav (https://, davs://) or b2core-fsspec (any other)"
        )
    cls = DriverManager(FILESYSTEM_GROUP, name, invoke_on_load=False).driver
    if not (isinstance(cls, type) and issubclass(cls, RemoteFileSystem)):
        raise SettingsError(f"The entry point '{name}' in {FILESYSTEM_GROUP} is not a RemoteFileSystem: {cls!r}")
    return cls


def file_system_for(url: str) -> Any:
    """A file system for a server URL such as 'root://host:1094' or 'https://host/dav'."""
    scheme, separator, _ = url.partition("://")
    if not separator:
        raise SettingsError(f"Remote file system URL {url!r} has no scheme (like root:// or https://)")
    return file_system_class(scheme)(url)


def protocol_name(name: str) -> Any:
    """A public name (XRootDTarget, WebDAVSystem, ...) from the installed protocol module that defines it."""
    for module_name in sorted({ep.module for ep in installed_file_systems().values()}):
        module = importlib.import_module(module_name)
        if name in getattr(module, "__all__", ()):
            return getattr(module, name)
    raise AttributeError(name)
