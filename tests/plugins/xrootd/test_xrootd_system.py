"""XRootDSystem against the real server: b2luigi's methods, the server's checksums, permanent errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import b2core
import pytest
from b2core.errors import PermanentRemoteError
from b2core_xrootd import XRootDTarget

DATA = Path("/var/lib/b2core-xrootd/data")  # where scripts/xrootd-server.sh keeps the files


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
    if os.geteuid() != 0 or not DATA.is_dir():
        pytest.skip("needs root and the server's data folder to make a folder the server may not write")
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
