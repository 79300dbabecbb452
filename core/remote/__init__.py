"""Remote outputs: b2luigi's RemoteFileSystem and RemoteTarget; protocols come from plugins."""

from b2core.remote.filesystem import RemoteFileSystem, RemoteStat, Transferred
from b2core.remote.registry import file_system_for
from b2core.remote.target import RemoteTarget

__all__ = ["RemoteFileSystem", "RemoteStat", "RemoteTarget", "Transferred", "file_system_for"]
