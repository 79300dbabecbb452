"""Checksums of local files, to compare with what a storage server reports after a transfer."""

from __future__ import annotations

import hashlib
import zlib

CHUNK = 4 * 1024 * 1024


def local_checksum(path: str, algorithm: str) -> str:
    """The file's checksum as lower-case hex: adler32 (as XRootD and dCache report it) or any hashlib name."""
    with open(path, "rb") as stream:
        if algorithm == "adler32":
            value = 1
            while chunk := stream.read(CHUNK):
                value = zlib.adler32(chunk, value)
            return f"{value:08x}"
        digest = hashlib.new(algorithm)
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
        return digest.hexdigest()
