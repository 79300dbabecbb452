"""FsspecSystem on fsspec's real local and memory file systems: b2luigi's methods, the default seam, errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from b2core.errors import PermanentRemoteError, SettingsError
from b2core.remote import RemoteTarget, file_system_for
from b2core_fsspec import FsspecSystem
from remote_scenarios import check_b2luigi_methods


@pytest.fixture
def folder(fs):
    path = f"/b2core-tests/{uuid.uuid4().hex}"
    yield path
    fs.remove(path)


def test_b2luigi_methods_on_the_local_file_system(fs, folder, storage, tmp_path: Path) -> None:
    check_b2luigi_methods(fs, folder, tmp_path)
    on_disk = Path(storage.removeprefix("file://")) / folder.lstrip("/")
    assert (on_disk / "b.txt").read_text() == "payload\n" and not (on_disk / "sub").exists()


def test_an_existing_output_is_not_replaced_without_force(fs, folder, tmp_path: Path) -> None:
    local = tmp_path / "a.txt"
    local.write_text("x\n")
    fs.copy_file_to_remote(str(local), f"{folder}/a.txt")
    with pytest.raises(PermanentRemoteError, match="exists already"):
        fs.copy_file_to_remote(str(local), f"{folder}/a.txt")


def test_any_scheme_without_a_plugin_is_served_by_fsspec(tmp_path: Path) -> None:
    local = tmp_path / "a.txt"
    local.write_text("in memory\n")
    target = RemoteTarget("/data/a.txt", f"memory://{uuid.uuid4().hex}")
    assert isinstance(target.fs, FsspecSystem) and isinstance(file_system_for(tmp_path.as_uri()), FsspecSystem)
    target.fs.copy_file_to_remote(str(local), target.path)
    assert target.exists()
    with target.open("r") as stream:
        assert stream.read() == "in memory\n"


def test_a_missing_path_is_a_permanent_error_with_the_backends_words(fs, folder) -> None:
    fs.mkdir(folder)
    missing = r"Could not rename .*/nothing-here onto .*/b\.txt: FileNotFoundError"
    with pytest.raises(PermanentRemoteError, match=missing):
        fs.move(f"{folder}/nothing-here", f"{folder}/b.txt")


def test_a_file_in_the_way_of_a_folder_fails_at_once(fs, folder, tmp_path: Path) -> None:
    local = tmp_path / "a.txt"
    local.write_text("x\n")
    fs.copy_file_to_remote(str(local), f"{folder}/a.txt")
    with pytest.raises(PermanentRemoteError, match=r"Could not upload to .*/a\.txt/b\.txt"):
        fs.copy_file_to_remote(str(local), f"{folder}/a.txt/b.txt", force=True)


def test_a_protocol_fsspec_does_not_know_names_the_url() -> None:
    with pytest.raises(SettingsError, match=r"fsspec cannot serve nosuchproto://host"):
        FsspecSystem("nosuchproto://host")
