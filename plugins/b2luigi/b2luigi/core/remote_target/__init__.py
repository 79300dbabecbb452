"""b2luigi.core.remote_target: the protocol-independent remote file system and target."""

from b2core.remote import RemoteFileSystem, RemoteTarget

__all__ = ["RemoteFileSystem", "RemoteTarget"]
