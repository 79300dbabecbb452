"""Atomic outputs: run() writes temporary names; only a successful run() leaves files under final names."""

from __future__ import annotations

import json
from pathlib import Path

STEERING = """
import json
import os
import b2core as b2luigi

class Writer(b2luigi.Task):
    fail = b2luigi.BoolParameter(default=False)

    def output(self):
        yield self.add_to_output("data.tar.gz")
        yield self.add_to_output("summary.json")

    def run(self):
        names = {key: self.get_output_file_name(key) for key in ("data.tar.gz", "summary.json")}
        for key, name in names.items():
            if key != os.environ.get("SKIP"):
                with open(name, "w") as f:
                    f.write(key)
        with open(os.path.join(os.environ["SPY_DIR"], f"names-{self.fail}.json"), "w") as f:
            json.dump(names, f)
        if self.fail:
            raise RuntimeError("run() failed after writing its outputs")

class Scratch(b2luigi.Task):
    def output(self):
        yield self.add_to_output("big.root")

    @b2luigi.on_temporary_files
    def run(self):
        name = self.get_output_file_name("big.root")
        with open(os.path.join(os.environ["SPY_DIR"], "scratch-name.txt"), "w") as f:
            f.write(name)
        with open(name, "w") as f:
            f.write("content")
        if os.environ.get("FAIL_SCRATCH"):
            raise RuntimeError("scratch run failed")

class Both(b2luigi.WrapperTask):
    fail = b2luigi.BoolParameter(default=False)

    def requires(self):
        yield Writer(fail=self.fail)
        yield Scratch()

if __name__ == "__main__":
    b2luigi.set_setting("result_dir", "results")
    b2luigi.set_setting("scratch_dir", os.environ["SCRATCH"])
    b2luigi.process(Both(fail=bool(os.environ.get("FAIL"))), workers=1)
"""


def run_writer(workflow, tmp_path: Path, **env: str):
    """Run the staging workflow with a spy folder and a scratch folder."""
    spy, scratch = tmp_path / "spy", tmp_path / "scratch"
    spy.mkdir(exist_ok=True)
    scratch.mkdir(exist_ok=True)
    workflow.write(STEERING)
    return workflow.run(env={"SPY_DIR": str(spy), "SCRATCH": str(scratch), **env}), spy, scratch


def test_run_writes_temporary_names_moved_into_place_on_success(workflow, tmp_path: Path) -> None:
    """Inside run() the names differ from the final ones (extensions kept); afterwards only final files exist."""
    run, spy, _ = run_writer(workflow, tmp_path)
    assert run.returncode == 0, run
    names = json.loads((spy / "names-False.json").read_text())
    results = workflow.path / "results" / "fail=False"
    for key in ("data.tar.gz", "summary.json"):
        assert names[key] != str(results / key)
        assert names[key].endswith("." + key.split(".", 1)[1])
        assert (results / key).read_text() == key
    assert sorted(p.name for p in results.iterdir()) == ["data.tar.gz", "summary.json"]


def test_an_output_run_did_not_write_stays_missing(workflow, tmp_path: Path) -> None:
    """A run() that asks for two names and writes one: that one lands, nothing stands for the other."""
    run, _, _ = run_writer(workflow, tmp_path, SKIP="summary.json")
    assert run.returncode == 0, run
    results = workflow.path / "results" / "fail=False"
    assert [p.name for p in results.iterdir()] == ["data.tar.gz"]


def test_failing_run_exits_nonzero_and_leaves_nothing_that_counts_as_complete(workflow, tmp_path: Path) -> None:
    """A run() that raises after writing: exit code 1, no final file, no temporary left behind."""
    run, spy, _ = run_writer(workflow, tmp_path, FAIL="1")
    assert run.returncode == 1, run
    assert "run() failed after writing its outputs" in run.output
    folder = workflow.path / "results" / "fail=True"
    assert not folder.exists() or list(folder.iterdir()) == []
    dry = workflow.run("--dry-run", env={"SPY_DIR": str(spy), "SCRATCH": str(tmp_path / "scratch"), "FAIL": "1"})
    assert dry.returncode == 1 and "Would run Writer(fail=True)" in dry.stdout, dry


def test_on_temporary_files_writes_in_scratch_dir_and_moves_on_success(workflow, tmp_path: Path) -> None:
    """@on_temporary_files hands out a name in scratch_dir; the file lands in the result folder afterwards."""
    run, spy, scratch = run_writer(workflow, tmp_path)
    assert run.returncode == 0, run
    name = Path((spy / "scratch-name.txt").read_text())
    assert scratch in name.parents
    assert name.name != "big.root" and name.suffix == ".root"
    assert (workflow.path / "results" / "big.root").read_text() == "content"
    assert list(scratch.iterdir()) == []


def test_on_temporary_files_failure_moves_nothing(workflow, tmp_path: Path) -> None:
    """A failing decorated run() leaves neither the final file nor scratch files."""
    run, _, scratch = run_writer(workflow, tmp_path, FAIL_SCRATCH="1")
    assert run.returncode == 1, run
    assert "scratch run failed" in run.output
    assert not (workflow.path / "results" / "big.root").exists()
    assert list(scratch.iterdir()) == []
