"""Backing the VM's memory before a measurement, so that no side pays the first touch of guest pages."""

from __future__ import annotations

import os
from pathlib import Path


def touch_memory(folder: Path | str, mb: int) -> None:
    """Write and delete mb MB: what is measured next then lands on memory the VM backs right now."""
    # a first touch of guest memory costs the writer about 1.5 s of system CPU per GB written here (0.25 s
    # on memory touched just before). A touch once at the start of the run did not last (this VM has a
    # virtio-balloon device; b2core's 1 GB WebDAV download took 1.9-3.4 s, 1.24-1.32 s after a touch right
    # before it), so each measurement is preceded by its own
    block = os.urandom(4 * 1024 * 1024)
    path = Path(folder) / "touch.bin"
    with open(path, "wb") as stream:
        for _ in range(max(1, mb // 4)):
            stream.write(block)
    path.unlink()
