"""A really full disk: result_dir or log_dir on a 1 MB tmpfs that one task fills. That task fails alone with a
message naming the full folder and "No space left on device"; nothing partial counts as its output; the
other tasks' results stay; no raw traceback of b2core's own files (the job store) ends the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from b2core.staging import TMP_MARKER

STEERING = """
import os
import b2core


class DiskFiller(b2core.Task):
    batch_system = "local"

    def requires(self):
        if os.environ.get("FILLER_LAST"):  # the others finish first, while their logs still fit
            for number in range(3):
                yield DiskSmall(number=number)

    def output(self):
        yield self.add_to_output("big.bin")

    def run(self):
        for _ in range(int(os.environ.get("CHATTER", "0"))):
            print("x" * 65535, flush=True)  # its stdout file in log_dir
        with open(self.get_output_file_name("big.bin"), "wb") as f:
            for _ in range(int(os.environ.get("BLOCKS", "0"))):
                f.write(b"x" * 65536)


class DiskSmall(b2core.Task):
    batch_system = "local"
    number = b2core.IntParameter()

    def output(self):
        yield self.add_to_output("small.txt")

    def run(self):
        with open(self.get_output_file_name("small.txt"), "w") as f:
            f.write(str(self.number))


class DiskAll(b2core.WrapperTask):
    def requires(self):
        yield DiskFiller()
        for number in range(3):
            yield DiskSmall(number=number)


if __name__ == "__main__":
    b2core.set_setting("result_dir", os.environ["RESULTS"])
    b2core.set_setting("log_dir", os.environ["LOGS"])
    b2core.set_setting("poll_interval", 0.3)
    b2core.set_setting("submit_interval", 0.1)
    b2core.process(DiskAll(), workers=2, batch=os.environ.get("BATCH") == "1")
"""


def run(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """One steering process, as a user starts it."""
    (folder / "steering.py").write_text(STEERING)
    keep = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_") or k == "B2CORE_REQUIRE_CLUSTERS"}
    return subprocess.run(
        [sys.executable, "steering.py"], cwd=folder, env={**keep, **env}, capture_output=True, text=True, timeout=300
    )


def summary(done: subprocess.CompletedProcess[str]) -> str:
    """The failure summary at the end of a run."""
    return done.stderr.split("===== b2core: 1 task(s) failed =====")[-1]


def assert_others_kept(results: Path) -> None:
    for number in range(3):
        assert (results / f"number={number}" / "small.txt").read_text() == str(number)


@pytest.mark.parametrize("batch", ["0", "1"], ids=["local run", "local backend"])
def test_a_task_filling_result_dir_fails_alone_naming_the_folder(tmp_path: Path, small_tmpfs, batch: str) -> None:
    """run() writes 2.5 MB into a 1 MB result_dir: that task fails naming the folder, nothing partial of it is
    left or counted complete, the small tasks' results are there; with room again, the rerun completes it."""
    results = small_tmpfs(tmp_path / "results")
    # the small tasks finish first: one writing while the filler has the folder full would fail as well
    env = {"RESULTS": str(results), "LOGS": str(tmp_path / "logs"), "BLOCKS": "40", "BATCH": batch, "FILLER_LAST": "1"}
    done = run(tmp_path, **env)
    assert done.returncode == 1, done.stderr[-3000:]
    text = summary(done)
    assert f"DiskFiller__99914b932b could not write its outputs in {results}: No space left on device" in text, text
    assert "1/5 done" not in done.stderr and "0 failed" not in done.stderr.splitlines()[-1]
    assert not (results / "big.bin").exists()
    assert not [path for path in results.rglob("*") if TMP_MARKER in path.name], "no partial file stays"
    assert_others_kept(results)
    subprocess.run(["mount", "-o", "remount,size=8m", str(results)], check=True)
    again = run(tmp_path, **env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (results / "big.bin").stat().st_size == 40 * 65536


def test_a_task_filling_log_dir_fails_alone_and_the_job_store_error_is_no_crash(tmp_path: Path, small_tmpfs) -> None:
    """A batch job prints 2.5 MB into its stdout file in a 1 MB log_dir, which also holds the job store (the
    other tasks ran before): the task fails, its failure names the full log folder; the job store's write
    errors are reported, not raised; the other tasks' results are there."""
    logs = small_tmpfs(tmp_path / "logs")
    results = tmp_path / "results"
    done = run(tmp_path, RESULTS=str(results), LOGS=str(logs), CHATTER="40", BATCH="1", FILLER_LAST="1")
    assert done.returncode == 1, done.stderr[-3000:]
    text = summary(done)
    assert f"its log folder {logs / 'DiskFiller'} is full (No space left on device)" in text, text
    assert "Traceback" not in done.stderr.split("===== b2core:")[0], done.stderr[-3000:]
    assert f"The job store {logs / '.b2core' / 'jobs.sqlite'} cannot be written" in done.stderr
    assert not (results / "big.bin").exists()
    assert_others_kept(results)
