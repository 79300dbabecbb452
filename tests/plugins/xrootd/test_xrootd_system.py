"""XRootDSystem against the real server: b2luigi's methods, the server's checksums, verification, errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import b2core
import pytest
from b2core.errors import PermanentRemoteError, TransientRemoteError
from b2core_xrootd import XRootDSystem, XRootDTarget
from b2core_xrootd.system import SMALL_TRANSFER

DATA = Path("/var/lib/b2core-xrootd/data")  # where scripts/xrootd-server.sh keeps the files
# both download paths: one open/read/close, and the copy engine (with its end-to-end checksum)
SIZES = pytest.mark.parametrize("size", [10_000, SMALL_TRANSFER + 1_000_000], ids=["one read", "copy engine"])


class Recording(XRootDSystem):
    """The real XRootDSystem, noting the requests that verification makes after a transfer."""

    def __init__(self, server_path: str) -> None:
        super().__init__(server_path)
        self.asked: list[str] = []

    def _stat(self, door, path):
        self.asked.append("stat")
        return super()._stat(door, path)

    def _checksum(self, door, path):
        self.asked.append("checksum")
        return super()._checksum(door, path)

    def _checksum_soon(self, door, path):
        self.asked.append("checksum with the open")
        return super()._checksum_soon(door, path)


def uploaded(fs: XRootDSystem, path: str, folder: Path, size: int) -> bytes:
    """Random bytes published at path (the upload's check makes the server store their adler32)."""
    data = os.urandom(size)
    (folder / "up.bin").write_bytes(data)
    fs.copy_file_to_remote(str(folder / "up.bin"), path, force=True)
    return data


def needs_the_data_folder() -> None:
    """Skip unless this test may change files in the shared server's data folder behind its back."""
    if os.geteuid() != 0 or not DATA.is_dir():
        pytest.skip("needs root and the server's data folder")


def corrupt_under_its_checksum(path: str) -> None:
    """Flip a byte of a file on the server's disk, keeping its mtime: the adler32 the server stored stays,
    as after silent disk corruption, so the server now serves bytes that do not match its checksum."""
    disk = DATA / path.lstrip("/")
    before = disk.stat()
    with open(disk, "r+b") as stream:
        first = stream.read(1)
        stream.seek(0)
        stream.write(bytes([first[0] ^ 0xFF]))
    os.utime(disk, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.fixture
def folder(fs):
    path = f"/b2core-tests/{uuid.uuid4().hex}"
    yield path
    fs.remove(path)


def test_b2luigi_methods_on_the_real_server(fs, folder, tmp_path: Path) -> None:
    local = tmp_path / "a.txt"
    local.write_text("payload\n")
    fs.mkdir(f"{folder}/sub")
    fs.copy_file_to_remote(str(local), f"{folder}/sub/a.txt")
    assert fs.exists(f"{folder}/sub/a.txt") and fs.isdir(f"{folder}/sub")
    assert fs.listdir(f"{folder}/sub") == [f"{folder}/sub/a.txt"]
    assert fs.locate(f"{folder}/sub/a.txt")[0].startswith("root://")
    fs.move(f"{folder}/sub/a.txt", f"{folder}/b.txt")
    assert not fs.exists(f"{folder}/sub/a.txt")
    fs.copy_dir_from_remote(folder, str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "b.txt").read_text() == "payload\n"
    fs.remove_dir(f"{folder}/sub")
    assert not fs.exists(f"{folder}/sub")


def test_checksum_is_the_servers_adler32(fs, folder, tmp_path: Path) -> None:
    local = tmp_path / "a.bin"
    local.write_bytes(os.urandom(100_000))
    target = XRootDTarget(f"{folder}/a.bin", fs)
    target.makedirs()
    target.publish(str(local))
    answer = subprocess.run(
        ["xrdfs", "localhost:1094", "query", "checksum", target.path], capture_output=True, text=True, check=True
    )
    assert answer.stdout.split() == ["adler32", fs.checksum(target.path)]


def test_permission_denied_fails_at_once_naming_the_url(fs, folder, tmp_path: Path) -> None:
    needs_the_data_folder()  # to make a folder the server may not write
    fs.mkdir(folder)
    locked = DATA / folder.lstrip("/") / "locked"
    locked.mkdir()
    shutil.chown(locked, "root")
    locked.chmod(0o755)
    b2core.set_setting("remote_retries", 5)
    b2core.set_setting("remote_retry_wait", 30)  # a retry would make this test take minutes
    local = tmp_path / "a.txt"
    local.write_text("x\n")
    with pytest.raises(PermanentRemoteError) as caught:
        fs.copy_file_to_remote(str(local), f"{folder}/locked/a.txt")
    assert f"root://localhost:1094/{folder}/locked/a.txt" in str(caught.value)
    assert "permission denied" in str(caught.value)


def test_b2luigi_names_and_import_paths() -> None:
    import b2luigi
    from b2core_xrootd import XRootDSystem
    from b2luigi.core.remote_target import RemoteTarget, xrootd

    assert xrootd.XRootDSystem is XRootDSystem is b2core.XRootDSystem is b2luigi.XRootDSystem
    assert xrootd.XRootDTarget is XRootDTarget is b2luigi.XRootDTarget
    assert issubclass(XRootDTarget, RemoteTarget)


@SIZES
def test_transfers_verify_without_asking_the_server_again(xrootd_server, folder, tmp_path: Path, size) -> None:
    fs = Recording(xrootd_server)
    data = uploaded(fs, f"{folder}/f.bin", tmp_path, size)
    # a small upload's write and close established the size; the copy engine's upload is stat-ed
    assert fs.asked == (["checksum"] if size <= SMALL_TRANSFER else ["stat", "checksum"])
    fs.asked.clear()
    fs.copy_file_from_remote(f"{folder}/f.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == data
    assert fs.asked == ["checksum with the open"], "size and adler32 came with the download (or the engine compared)"


@SIZES
def test_a_corrupted_file_on_the_server_is_retried_then_named(fs, folder, tmp_path: Path, size) -> None:
    needs_the_data_folder()
    uploaded(fs, f"{folder}/f.bin", tmp_path, size)
    corrupt_under_its_checksum(f"{folder}/f.bin")
    b2core.set_setting("remote_retries", 1)
    b2core.set_setting("remote_retry_wait", 0)
    local = tmp_path / "down" / "f.bin"
    with pytest.raises(TransientRemoteError) as caught:
        fs.copy_file_from_remote(f"{folder}/f.bin", str(local))
    message = str(caught.value)
    assert fs.url(f"{folder}/f.bin") in message, message
    assert "adler32 differs" in message and "gave up after 2 attempts" in message, message
    assert list(local.parent.iterdir()) == [], "neither the final name nor a temporary one is left"


@SIZES
def test_a_server_without_checksums_is_checked_by_size(server_without_checksums, tmp_path: Path, size) -> None:
    fs = Recording(server_without_checksums.url)
    data = uploaded(fs, "/f.bin", tmp_path, size)
    fs.copy_file_from_remote("/f.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == data
    assert fs.asked.count("checksum") == 1, "a door that offers no checksums is asked once, not per transfer"
    assert fs.checksum("/f.bin") is None
    reader = Recording(server_without_checksums.url)  # a job that only downloads
    for name in ("first.bin", "second.bin"):
        reader.copy_file_from_remote("/f.bin", str(tmp_path / name))
        assert (tmp_path / name).read_bytes() == data
    assert reader.asked == ["checksum with the open"], "the answer to the first question is remembered"
