"""The protocol-agnostic remote machinery: retries over doors, permanent errors, verification, atomic publishing.

The protocol here is a folder per door with faults injected on request: the core's code under test
(RemoteFileSystem's public methods, RemoteTarget, output staging) is the real one.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import b2core
import pytest
from b2core.errors import PermanentRemoteError, SettingsError, TransientRemoteError
from b2core.remote import RemoteFileSystem, RemoteStat, RemoteTarget, Transferred, file_system_for
from b2core.remote.checksums import local_checksum


def adler32(path: Path) -> str:
    return f"{zlib.adler32(path.read_bytes()):08x}"


class FolderSystem(RemoteFileSystem):
    """Each door 'folder://<name>' is a local folder; `faults` lists errors the next calls raise; transfers
    report the `tells` fields of Transferred (size, checksum, verified), each truthfully established."""

    checksum_algorithm = "adler32"
    root: Path

    def __init__(self, server_path, root: Path) -> None:
        super().__init__(server_path)
        self.root = root
        self.faults: list[tuple[str, Exception]] = []  # (primitive name, error) consumed in order
        self.calls: list[tuple[str, str]] = []  # (primitive name, door)
        self.corrupt_uploads = 0
        self.corrupt_downloads = 0
        self.tells: frozenset[str] = frozenset()

    def _local(self, door: str, path: str) -> Path:
        return self.root / door.split("://")[1] / path.lstrip("/")

    def _enter(self, name: str, door: str) -> None:
        self.calls.append((name, door))
        if self.faults and self.faults[0][0] == name:
            raise self.faults.pop(0)[1]

    def _stat(self, door, path):
        self._enter("stat", door)
        local = self._local(door, path)
        if not local.exists():
            return None
        return RemoteStat(size=local.stat().st_size if local.is_file() else 0, is_dir=local.is_dir())

    def _upload(self, door, local_path, path):
        self._enter("upload", door)
        target = self._local(door, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(local_path, target)
        if self.corrupt_uploads:
            self.corrupt_uploads -= 1
            flip_first_byte(target)
        return self._told(door, path, served=target, local=Path(local_path))

    def _download(self, door, path, local_path):
        self._enter("download", door)
        served = self._local(door, path)
        shutil.copyfile(served, local_path)
        if self.corrupt_downloads:
            self.corrupt_downloads -= 1
            flip_first_byte(Path(local_path))
        return self._told(door, path, served=served, local=Path(local_path))

    def _told(self, door: str, path: str, served: Path, local: Path) -> Transferred | None:
        """What the transfer reports: the served file's size and checksum; `verified` only after comparing."""
        if not self.tells:
            return None
        if "verified" in self.tells and adler32(served) != adler32(local):
            raise TransientRemoteError(self.url(path, door), "transfer", "the transfer's own checksums differ")
        return Transferred(
            size=served.stat().st_size if "size" in self.tells else None,
            checksum=adler32(served) if "checksum" in self.tells else None,
            verified="verified" in self.tells,
        )

    def _rename(self, door, path, dest):
        self._enter("rename", door)
        os.replace(self._local(door, path), self._local(door, dest))

    def _mkdir(self, door, path):
        self._enter("mkdir", door)
        self._local(door, path).mkdir(parents=True, exist_ok=True)

    def _remove_file(self, door, path):
        self._enter("remove", door)
        self._local(door, path).unlink()

    def _remove_empty_dir(self, door, path):
        self._enter("rmdir", door)
        self._local(door, path).rmdir()

    def _listdir(self, door, path):
        self._enter("listdir", door)
        return sorted(p.name for p in self._local(door, path).iterdir())

    def _checksum(self, door, path):
        self._enter("checksum", door)
        return adler32(self._local(door, path))


def flip_first_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def fs(tmp_path: Path) -> FolderSystem:
    b2core.set_setting("remote_retry_wait", 0)
    return FolderSystem(["folder://one", "folder://two"], tmp_path / "servers")


@pytest.fixture
def local_file(tmp_path: Path) -> Path:
    path = tmp_path / "local.txt"
    path.write_text("42\n")
    return path


def test_upload_is_verified_then_renamed_and_leaves_no_temporary(fs, local_file) -> None:
    fs.copy_file_to_remote(str(local_file), "/out/a.txt")
    assert [name for name, _ in fs.calls] == ["stat", "upload", "stat", "checksum", "rename"]
    assert fs.listdir("/out") == ["/out/a.txt"]


def test_transient_errors_move_to_the_next_door_and_succeed(fs, local_file) -> None:
    fs.faults = [("upload", TransientRemoteError("folder://one/x", "upload to", "server busy"))]
    fs.mkdir("/out")  # on door one
    fs.copy_file_to_remote(str(local_file), "/out/a.txt", force=True)
    uploads = [door for name, door in fs.calls if name == "upload"]
    assert uploads == ["folder://one", "folder://two"]
    assert fs.server_path == "folder://two"
    assert fs.exists("/out/a.txt")


def test_transient_errors_give_up_after_the_retries_naming_url_and_doors(fs, local_file) -> None:
    b2core.set_setting("remote_retries", 2)
    fs.faults = [("stat", TransientRemoteError(f"folder://d/{i}", "check", "connection refused")) for i in range(3)]
    with pytest.raises(TransientRemoteError) as caught:
        fs.exists("/out/a.txt")
    message = str(caught.value)
    assert "connection refused" in message and "gave up after 3 attempts on folder://one, folder://two" in message
    assert len(fs.calls) == 3


def test_retries_wait_exponentially_and_log_each_attempt(fs, caplog) -> None:
    b2core.set_setting("remote_retries", 3)
    b2core.set_setting("remote_retry_wait", 0.1)
    fs.faults = [("stat", TransientRemoteError(f"folder://d/{i}", "check", "server busy")) for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="b2core"):
        assert not fs.exists("/out/a.txt")  # the fourth attempt answers
    retries = [r.getMessage() for r in caplog.records if "retrying on" in r.getMessage()]
    assert [m.rpartition("retrying on ")[2] for m in retries] == [
        "folder://two in 0.1 s (attempt 2)",
        "folder://one in 0.2 s (attempt 3)",
        "folder://two in 0.4 s (attempt 4)",
    ]
    assert [door for name, door in fs.calls if name == "stat"] == ["folder://one", "folder://two"] * 2


def test_a_permanent_error_fails_at_once_with_the_servers_words(fs, local_file) -> None:
    fs.faults = [("upload", PermanentRemoteError("folder://one//out/a.txt", "upload to", "permission denied"))]
    words = r"Could not upload to folder://one/out/a\.txt: permission denied \(uploading as a-luigi-tmp-"
    with pytest.raises(PermanentRemoteError, match=words):
        fs.copy_file_to_remote(str(local_file), "/out/a.txt", force=True)
    assert [name for name, _ in fs.calls].count("upload") == 1
    assert not fs.exists("/out/a.txt")


def test_a_corrupted_upload_is_detected_by_checksum_and_sent_again(fs, local_file) -> None:
    fs.corrupt_uploads = 1
    fs.copy_file_to_remote(str(local_file), "/out/a.txt", force=True)
    assert [name for name, _ in fs.calls].count("upload") == 2
    target = RemoteTarget("/out/a.txt", fs)
    with target.open("r") as stream:
        assert stream.read() == "42\n"


@pytest.mark.parametrize(
    ("tells", "asked"),
    [
        ((), ["stat", "checksum"]),
        (("size",), ["checksum"]),
        (("checksum",), ["stat"]),
        (("size", "checksum"), []),
        (("verified",), []),
    ],
)
def test_verification_asks_only_what_the_transfer_did_not_tell(fs, local_file, tmp_path, tells, asked) -> None:
    fs.tells = frozenset(tells)
    fs.copy_file_to_remote(str(local_file), "/out/a.txt", force=True)
    assert [name for name, _ in fs.calls] == ["upload", *asked, "rename"]
    fs.calls.clear()
    fs.copy_file_from_remote("/out/a.txt", str(tmp_path / "down.txt"))
    assert [name for name, _ in fs.calls] == ["download", *asked]
    assert (tmp_path / "down.txt").read_text() == "42\n"


@pytest.mark.parametrize("tells", [(), ("size", "checksum"), ("verified",)])
def test_a_corrupted_download_is_caught_whatever_the_transfer_told(local_file, tmp_path, tells) -> None:
    b2core.set_setting("remote_retry_wait", 0)
    fs = FolderSystem("folder://one", tmp_path / "servers")  # one door: a retry reads the same file again
    fs.copy_file_to_remote(str(local_file), "/out/a.txt", force=True)
    fs.tells = frozenset(tells)
    fs.corrupt_downloads = 1
    fs.copy_file_from_remote("/out/a.txt", str(tmp_path / "down.txt"))
    assert (tmp_path / "down.txt").read_text() == "42\n"
    assert [name for name, _ in fs.calls].count("download") == 2, "the corrupted copy was downloaded again"
    b2core.set_setting("remote_retries", 1)
    fs.corrupt_downloads = 2
    with pytest.raises(TransientRemoteError, match=r"folder://one/out/a\.txt: .*differ.*gave up after 2 attempts"):
        fs.copy_file_from_remote("/out/a.txt", str(tmp_path / "again.txt"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["down.txt", "local.txt", "servers"], "no partial file"


def test_a_failed_rename_never_leaves_the_final_name_nor_the_temporary(fs, local_file) -> None:
    fs.faults = [("rename", PermanentRemoteError("folder://one//out/a.txt", "rename onto", "quota exceeded"))]
    fs.mkdir("/out")
    with pytest.raises(PermanentRemoteError, match="quota exceeded"):
        fs.copy_file_to_remote(str(local_file), "/out/a.txt", force=True)
    assert fs.listdir("/out") == []


def test_without_force_an_existing_file_is_kept(fs, local_file) -> None:
    fs.copy_file_to_remote(str(local_file), "/out/a.txt")
    with pytest.raises(PermanentRemoteError, match="exists already"):
        fs.copy_file_to_remote(str(local_file), "/out/a.txt")


def test_target_api_of_b2luigi(fs, tmp_path: Path, local_file) -> None:
    target = RemoteTarget("/out/sub/a.txt", fs)
    assert target.base_name == "a.txt" and target.fs is fs
    target.makedirs()
    with target.temporary_path() as local:
        Path(local).write_text("1\n")
    assert target.exists()
    assert Path(target.get(str(tmp_path / "down"))).read_text() == "1\n"
    with target.get_temporary_input() as copy:
        assert Path(copy).read_text() == "1\n"
    assert not Path(copy).exists()
    with pytest.raises(RuntimeError), target.temporary_path() as local:
        Path(local).write_text("2\n")
        raise RuntimeError("run() failed")
    assert Path(target.get(str(tmp_path / "down2"))).read_text() == "1\n", "a failed block publishes nothing"
    with target.open("w") as stream:  # b2luigi raises NotImplementedError here; b2core publishes on close
        stream.write("3\n")
    with target.open("r") as stream:
        assert stream.read() == "3\n"
    with pytest.raises(RuntimeError), target.open("w") as stream:
        stream.write("4\n")
        raise RuntimeError("writing failed")
    with target.open("r") as stream:
        assert stream.read() == "3\n", "a failed write publishes nothing"
    fs.copy_dir_from_remote("/out", str(tmp_path / "tree"))
    assert (tmp_path / "tree" / "sub" / "a.txt").read_text() == "3\n"
    target.remove()
    assert not target.exists()


class Producer(b2core.Task):
    fail = b2core.BoolParameter(default=False)

    def output(self):
        yield self.add_to_output("made.txt")

    def run(self):
        with open(self.get_output_file_name("made.txt"), "w") as stream:
            stream.write("made\n")
        if self.fail:
            raise RuntimeError("run() failed after writing")


def run_quietly(task: b2core.Task) -> bool:
    """Run through b2core's local path (staged outputs), as process() does; True if it succeeded."""
    try:
        return b2core.process(task, workers=1, argv=[])
    except SystemExit as stop:
        return stop.code == 0


def test_task_outputs_are_published_only_when_run_succeeds(fs) -> None:
    b2core.set_setting("default_task_target_class", RemoteTarget)
    b2core.set_setting("target_class_kwargs", {"file_system": fs})
    b2core.set_setting("result_dir", "/results")
    assert not run_quietly(Producer(fail=True))
    assert not fs.exists("/results/fail=True/made.txt")
    assert fs.listdir("/results/fail=True") == [], "nothing temporary is left on the server"
    assert run_quietly(Producer())
    with RemoteTarget("/results/fail=False/made.txt", fs).open("r") as stream:
        assert stream.read() == "made\n"


def test_local_checksums_match_the_servers_spelling(local_file) -> None:
    assert local_checksum(str(local_file), "adler32") == f"{zlib.adler32(b'42' + bytes([10])):08x}"
    assert local_checksum(str(local_file), "md5") == "50a2fabfdd276f573ff97ace8b11c5f4"


def test_unknown_scheme_says_what_to_install(tmp_path, monkeypatch) -> None:
    """A scheme no installed protocol serves names the plugins to install. b2core-fsspec serves every scheme
    nobody else claims, so the venv here is one without it: a b2core-fsspec distribution without entry points
    first on sys.path hides an installed one (importlib.metadata takes the first of each name)."""
    hiding = tmp_path / "b2core_fsspec-0.dist-info"
    hiding.mkdir()
    (hiding / "METADATA").write_text("Metadata-Version: 2.1\nName: b2core-fsspec\nVersion: 0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SettingsError, match=r"No remote file system serves 'nosuch://' URLs.*b2core-xrootd"):
        file_system_for("nosuch://host/path")
    with pytest.raises(SettingsError, match="no scheme"):
        RemoteTarget("/a", "just-a-host")


def test_import_b2core_imports_no_protocol_client() -> None:
    code = "import sys, b2core; print(sorted(m for m in sys.modules if m.split('.')[0] in {names!r}))".format(
        names={"XRootD", "b2core_xrootd", "b2core_webdav", "fsspec"}
    )
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "[]"
