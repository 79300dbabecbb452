"""working_dir: the job runs in that folder and still reaches the steering script (b2luigi's meaning)."""

from __future__ import annotations

from pathlib import Path

import pytest

STEERING = """
import os
import sys
import b2core as b2luigi

class Where(b2luigi.Task):
    working_dir = os.environ["WORKING_DIR"]

    def output(self):
        yield self.add_to_output("where.txt")

    def run(self):
        with open(self.get_output_file_name("where.txt"), "w") as f:
            f.write(os.getcwd())

if __name__ == "__main__":
    b2luigi.set_setting("batch_system", os.environ["BACKEND"])
    b2luigi.process(Where(), batch=True)
"""


@pytest.mark.parametrize("backend", ["local", "example"])
def test_job_runs_in_a_working_dir_other_than_the_scripts_folder(example, tmp_path: Path, backend: str) -> None:
    """A shared-file-system working_dir: the job changes into it and runs the script by its full path."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    example.write(STEERING)
    run = example.run(env={"WORKING_DIR": str(elsewhere), "BACKEND": backend})
    assert run.returncode == 0, run
    assert (example.path / "where.txt").read_text() == str(elsewhere)
    assert "Working in the folder" in (example.path / "logs" / "Where" / "stdout").read_text()
