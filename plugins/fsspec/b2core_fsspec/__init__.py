"""Remote outputs for b2core on any fsspec file system: every URL scheme without its own plugin."""

from b2core_fsspec.system import FsspecSystem, FsspecTarget

__all__ = ["FsspecSystem", "FsspecTarget"]
