"""The basf2 stand-ins behave like the real tools: the basf2 API and executable, hadd, b2file-merge."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
PYDIR = HERE / "python"
BIN = HERE / "bin"

sys.path.insert(0, str(PYDIR))
import basf2  # noqa: E402


def test_basf2_standin_api(tmp_path):
    script = textwrap.dedent(
        """
        import os, pickle, sys
        import basf2
        from basf2 import pickle_path
        from variables import variables as vm

        class Counter(basf2.Module):
            def initialize(self):
                self.n = 0
            def event(self):
                self.n += 1
            def terminate(self):
                print("events seen", self.n)

        main = basf2.create_path()
        main.add_module("EventInfoSetter", evtNumList=[7])
        sub = basf2.Path()
        sub.add_module("RootOutput", outputFileName="skim.udst.root")
        sel = main.add_module("VariablesToNtuple", fileName="nt.root", treeName="t", variables=["M"])
        sel.if_true(sub)
        assert [m.type() for m in main.modules()] == ["EventInfoSetter", "VariablesToNtuple"]
        vm.addAlias("a1", "a2")
        vm.addAlias("a2", "daughter(0, M)")
        assert vm.getAliasNames() == ["a1", "a2"] and vm.getVariable("a1").name == "daughter(0, M)"
        basf2.conditions.globaltags += ["gt_a"]
        data = pickle.loads(pickle.dumps(pickle_path.serialize_path(main)))
        restored = pickle_path.deserialize_path(data)
        assert str(restored) == str(main)
        pickle_path.write_path_to_file(main, "path.pkl")
        other = basf2.create_path()
        other.add_module(Counter())
        restored.add_path(other)
        try:
            pickle_path.serialize_path(restored)
        except ValueError as err:
            assert "python module" in str(err)
        else:
            raise AssertionError("python modules must not be picklable")
        basf2.print_path(restored)
        basf2.process(restored)
        content = basf2.read_fake_root("nt.root")
        assert content["events"] == 7 and content["keys"][0]["name"] == "t"
        assert content["globaltags"] == ["gt_a"] and content["aliases"]["a1"] == "daughter(0, M)"
        assert basf2.read_fake_root("skim.udst.root")["written_by"] == ["RootOutput"]
        assert basf2.version.get_version()
        print(basf2.statistics)
        """
    )
    (tmp_path / "s.py").write_text(script)
    env = dict(os.environ, PYTHONPATH=f"{PYDIR}{os.pathsep}{tmp_path}")
    env.pop("BELLE2_RELEASE", None)
    proc = subprocess.run(
        [sys.executable, "-m", "basf2", "s.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "events seen 7" in proc.stdout and "Modules and parameter settings" in proc.stdout
    (tmp_path / "nt.root").unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "basf2", "--execute-path", "path.pkl", "-n", "3"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert basf2.read_fake_root(str(tmp_path / "nt.root"))["events"] == 3


def ntuple(path: Path, events: int, tree: str = "tree", release: str = "release-08") -> Path:
    """A stand-in ROOT file with one tree of `events` entries."""
    keys = [{"name": tree, "class": "TTree", "entries": events}]
    basf2.write_fake_root(str(path), {"keys": keys, "events": events, "release": release})
    return path


def tool(name: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / name), *map(str, args)], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("name", ["hadd", "b2file-merge", "analysis-fei-mergefiles"])
def test_merge_tools_add_entries_of_equal_trees_into_the_target(tmp_path: Path, name: str) -> None:
    sources = [ntuple(tmp_path / f"in{n}.root", events=n) for n in (2, 3)]
    flags = [] if name == "analysis-fei-mergefiles" else ["-f"]
    result = tool(name, *flags, "out.root", *sources, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    merged = basf2.read_fake_root(str(tmp_path / "out.root"))
    assert merged["events"] == 5 and merged["keys"] == [{"name": "tree", "class": "TTree", "entries": 5}]
    if name == "hadd":
        assert result.stdout.splitlines() == [
            "hadd Target file: out.root",
            "hadd compression setting for all output: 1",
            f"hadd Source file 1: {sources[0]}",
            f"hadd Source file 2: {sources[1]}",
            "hadd Target path: out.root:/",
        ]


def test_hadd_refuses_an_existing_target_without_f_and_a_missing_source(tmp_path: Path) -> None:
    source = ntuple(tmp_path / "in.root", events=1)
    (tmp_path / "out.root").write_text("old")
    refused = tool("hadd", "out.root", source, cwd=tmp_path)
    assert refused.returncode == 1 and 'Pass "-f" argument' in refused.stderr
    assert (tmp_path / "out.root").read_text() == "old"
    missing = tool("hadd", "-f", "new.root", source, "gone.root", cwd=tmp_path)
    assert missing.returncode == 1 and "hadd exiting due to error in gone.root" in missing.stderr
    assert not list(tmp_path.glob("new.root*"))


def test_b2file_merge_takes_only_basf2_files_of_one_release(tmp_path: Path) -> None:
    good = ntuple(tmp_path / "a.root", events=1)
    histograms = ntuple(tmp_path / "h.root", events=1, tree="variables")
    other = ntuple(tmp_path / "b.root", events=1, release="release-09")
    (tmp_path / "text.root").write_text("not ROOT")
    for bad, message in [(histograms, "not a basf2 output file"), (other, "different releases")]:
        result = tool("b2file-merge", "out.root", good, bad, cwd=tmp_path)
        assert result.returncode == 1 and message in result.stderr, result.stderr
    result = tool("b2file-merge", "out.root", good, tmp_path / "text.root", cwd=tmp_path)
    assert result.returncode == 1 and "not a basf2 output file" in result.stderr
    assert not list(tmp_path.glob("out.root*"))
    assert tool("b2file-merge", "out.root", cwd=tmp_path).returncode == 1
