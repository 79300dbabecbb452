"""ROOTLocalTarget on real ROOT files (written by uproot), the release lookup, the merge commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from b2core_basf2 import (
    Basf2FileMergeTask,
    Basf2nTupleMergeTask,
    HaddTask,
    ROOTLocalTarget,
    SimplifiedOutputBasf2Task,
)
from b2core_basf2.rootfile import NotARootFile, count_keys
from workflow import BIN, PYTHON

uproot = pytest.importorskip("uproot", reason="uproot writes the real ROOT files (installed by tox env basf2)")


def real_root_file(path: Path, trees: int) -> Path:
    with uproot.recreate(path) as handle:
        for number in range(trees):
            handle[f"tree{number}"] = {"x": [1.0, 2.0, 3.0]}
    return path


def test_keys_of_real_root_files_are_counted(tmp_path: Path) -> None:
    assert count_keys(real_root_file(tmp_path / "two.root", 2)) == 2
    assert count_keys(real_root_file(tmp_path / "none.root", 0)) == 0


def test_root_target_exists_only_for_a_complete_file_with_keys(tmp_path: Path) -> None:
    good = real_root_file(tmp_path / "good.root", 1)
    empty = real_root_file(tmp_path / "empty.root", 0)
    truncated = tmp_path / "truncated.root"
    truncated.write_bytes(good.read_bytes()[:300])
    text = tmp_path / "text.root"
    text.write_text("no ROOT file")
    folder = tmp_path / "dataset.root"
    folder.mkdir()
    answers = {p.name: ROOTLocalTarget(str(p)).exists() for p in (good, empty, truncated, text, folder)}
    assert answers == {
        "good.root": True,
        "empty.root": False,
        "truncated.root": False,
        "text.root": False,
        "dataset.root": True,
    }
    assert not ROOTLocalTarget(str(tmp_path / "missing.root")).exists()
    with pytest.raises(NotARootFile, match="truncated"):
        count_keys(truncated)


def test_the_standin_basf2_writes_files_real_root_readers_understand(tmp_path: Path) -> None:
    sys.path.insert(0, str(PYTHON))
    import basf2

    keys = [{"name": "tree", "class": "TTree"}, {"name": "hists", "class": "TDirectoryFile"}]
    basf2.write_fake_root(str(tmp_path / "s.root"), {"keys": keys})
    assert count_keys(tmp_path / "s.root") == 2
    assert sorted(uproot.open(tmp_path / "s.root").keys(cycle=False)) == ["hists", "tree"]


def git_hash(release: str | None, basf2_importable: bool) -> subprocess.CompletedProcess[str]:
    """get_basf2_git_hash() asked twice in a fresh process, ImportWarnings shown."""
    env = {k: v for k, v in os.environ.items() if k not in ("BELLE2_RELEASE", "PYTHONPATH")}
    if release is not None:
        env["BELLE2_RELEASE"] = release
    if basf2_importable:
        env["PYTHONPATH"] = str(PYTHON)
    code = "from b2core_basf2 import get_basf2_git_hash as g; print(g()); print(g())"
    argv = [sys.executable, "-W", "always::ImportWarning", "-c", code]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def test_git_hash_is_the_release_set_up_else_basf2s_version_else_not_set() -> None:
    assert git_hash("release-07-00-00", basf2_importable=False).stdout.split() == ["release-07-00-00"] * 2
    assert git_hash(None, basf2_importable=True).stdout.split() == ["release-08-02-00-b2core-standin"] * 2
    missing = git_hash("head", basf2_importable=False)
    assert missing.stdout.split() == ["not_set"] * 2
    assert missing.stderr.count("ImportWarning: No basf2 release is set up") == 1, missing.stderr


def test_merge_commands_and_the_ntuple_tool_found_on_path(monkeypatch, tmp_path: Path) -> None:
    assert (HaddTask.cmd, Basf2FileMergeTask.cmd) == (["hadd", "-f"], ["b2file-merge", "-f"])
    monkeypatch.setenv("PATH", str(BIN))
    assert Basf2nTupleMergeTask().cmd == ["analysis-fei-mergefiles"]
    (tmp_path / "fei_merge_files").symlink_to(shutil.which("hadd", path=str(BIN)))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert Basf2nTupleMergeTask().cmd == ["fei_merge_files"]
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(Exception, match="needs analysis-fei-mergefiles"):
        Basf2nTupleMergeTask().cmd  # noqa: B018


def test_simplified_outputs_are_the_root_output_files_of_the_path(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(PYTHON))
    import basf2

    class TwoSkims(SimplifiedOutputBasf2Task):
        def create_path(self):
            path = basf2.create_path()
            path.add_module("RootOutput", outputFileName="/data/a.udst.root")
            path.add_module("VariablesToNtuple", fileName="/data/nt.root")
            path.add_module("RootOutput", outputFileName="/data/b.udst.root")
            return path

    outputs = list(TwoSkims().output())
    assert [(key, target.path) for output in outputs for key, target in output.items()] == [
        ("/data/a.udst.root", "/data/a.udst.root"),
        ("/data/b.udst.root", "/data/b.udst.root"),
    ]
    assert all(isinstance(t, ROOTLocalTarget) for output in outputs for t in output.values())
