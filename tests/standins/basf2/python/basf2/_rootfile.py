"""The stand-in's ROOT files: ROOT's real on-disk layout (header, top directory, keys list), so tools
that read ROOT files' records see the right number of keys, plus the stand-in's JSON payload.

Layout (big-endian, 32-bit pointers, small-file format version 62400): the file header; at
byte 100 the top directory's key and name; its TDirectory record pointing at the keys list;
the keys list (its own key, the number of keys, one key per tree or histogram directory);
then ``PAYLOAD_MARKER`` and the JSON payload. Object data (baskets) are not written.
"""

from __future__ import annotations

import json
import os
import struct
import time
from typing import Any

PAYLOAD_MARKER = b"\0b2core-standin-payload\n"
FILE_VERSION = 62400
BEGIN = 100


def _string(text: str) -> bytes:
    raw = text.encode()
    return bytes([len(raw)]) + raw if len(raw) < 255 else b"\xff" + struct.pack(">i", len(raw)) + raw


def _key(class_name: str, name: str, seek_key: int, seek_dir: int, object_length: int) -> bytes:
    """A TKey header (version 4: 32-bit pointers) for an object of `object_length` bytes."""
    names = _string(class_name) + _string(name) + _string("")
    key_length = 26 + len(names)
    datime = int(time.time()) & 0x7FFFFFFF
    return (
        struct.pack(
            ">ihiihhii", key_length + object_length, 4, object_length, datime, key_length, 1, seek_key, seek_dir
        )
        + names
    )


def write(filename: str, keys: list[tuple[str, str]], payload: dict[str, Any]) -> None:
    """Write a file whose top directory lists `keys` as (class name, object name)."""
    base = os.path.basename(filename)
    named = _string(base) + _string("")
    top_key = _key("TFile", base, BEGIN, 0, 0)
    nbytes_name = len(top_key) + len(named)
    directory_at = BEGIN + nbytes_name
    directory_length = 2 + 4 + 4 + 4 + 4 + 4 * 3 + 2 + 16
    keys_at = directory_at + directory_length
    entries = b"".join(_key(cls, name, 0, BEGIN, 0) for cls, name in keys)
    body = struct.pack(">i", len(keys)) + entries
    list_key = _key("TFile", base, keys_at, BEGIN, len(body))
    keys_record = list_key + body
    end = keys_at + len(keys_record)
    directory = struct.pack(">hiiiiiii", 5, 0, 0, len(keys_record), nbytes_name, BEGIN, 0, keys_at) + bytes(18)
    header = _header(end, nbytes_name)
    data = header.ljust(BEGIN, b"\0") + top_key + named + directory + keys_record
    data += PAYLOAD_MARKER + json.dumps(payload, indent=1, sort_keys=True, default=str).encode() + b"\n"
    directory_name = os.path.dirname(filename)
    if directory_name:
        os.makedirs(directory_name, exist_ok=True)
    with open(filename, "wb") as handle:
        handle.write(data)


def _header(end: int, nbytes_name: int) -> bytes:
    """root, version, fBEGIN, fEND, fSeekFree, fNbytesFree, nfree, fNbytesName, fUnits, fCompress, ..."""
    return b"root" + struct.pack(">iiiiiiibiii", FILE_VERSION, BEGIN, end, 0, 0, 0, nbytes_name, 4, 0, 0, 0)


def read_payload(filename: str) -> dict[str, Any]:
    """The JSON payload of a stand-in file; ValueError for any other file."""
    with open(filename, "rb") as handle:
        data = handle.read()
    marker = data.find(PAYLOAD_MARKER)
    if not data.startswith(b"root") or marker < 0:
        raise ValueError(f"{filename} is not a b2core stand-in ROOT file")
    return json.loads(data[marker + len(PAYLOAD_MARKER) :].decode())
