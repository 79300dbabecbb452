"""How many objects a ROOT file's top directory holds, read from the file's own records (no ROOT needed).

The steering process decides completeness without a basf2 or ROOT set-up, so this reads the
documented on-disk layout: the file header names the top directory's record, whose TDirectory
part points to the keys list, which starts with the number of keys.
"""

from __future__ import annotations

import struct
from pathlib import Path

MAGIC = b"root"
LARGE_FILE_VERSION = 1_000_000  # file versions from here on use 64-bit pointers
LARGE_DIRECTORY_VERSION = 1000  # TDirectory/TKey versions above this use 64-bit pointers


class NotARootFile(ValueError):
    """The file is not a ROOT file, or it is truncated or damaged."""


def count_keys(path: str | Path) -> int:
    """Number of keys in the top directory; raises NotARootFile for anything that is no complete ROOT file."""
    with open(path, "rb") as handle:
        data = handle.read(64 * 1024)
        if not data.startswith(MAGIC) or len(data) < 53:
            raise NotARootFile(f"{path} does not start like a ROOT file")
        version, begin = struct.unpack_from(">ii", data, 4)
        pointer = ">q" if version >= LARGE_FILE_VERSION else ">i"
        # after fBEGIN: fEND and fSeekFree (pointers), fNbytesFree and nfree, then fNbytesName
        (end,) = struct.unpack_from(pointer, data, 12)
        (nbytes_name,) = struct.unpack_from(">i", data, 12 + 2 * struct.calcsize(pointer) + 8)
        size = handle.seek(0, 2)
        if end > size:
            raise NotARootFile(f"{path} is truncated: {size} bytes, but its header says {end}")
        seek_keys = _directory_seek_keys(handle, begin + nbytes_name, path)
        if seek_keys <= 0 or seek_keys >= size:
            raise NotARootFile(f"{path} has no keys list")
        handle.seek(seek_keys)
        key = handle.read(18)
        if len(key) < 18:
            raise NotARootFile(f"{path} ends inside its keys list")
        (key_length,) = struct.unpack_from(">h", key, 14)
        handle.seek(seek_keys + key_length)
        count = handle.read(4)
        if len(count) < 4:
            raise NotARootFile(f"{path} ends inside its keys list")
        return struct.unpack(">i", count)[0]


def _directory_seek_keys(handle, offset: int, path: str | Path) -> int:
    """The keys-list pointer of the TDirectory record at `offset`."""
    handle.seek(offset)
    record = handle.read(42)
    if len(record) < 30:
        raise NotARootFile(f"{path} ends inside its top directory")
    (version,) = struct.unpack_from(">h", record, 0)
    pointer = ">q" if version > LARGE_DIRECTORY_VERSION else ">i"
    # version, created, modified, nbytes keys, nbytes name; then seek dir, seek parent, seek keys
    position = 2 + 4 + 4 + 4 + 4 + 2 * struct.calcsize(pointer)
    return struct.unpack_from(pointer, record, position)[0]
