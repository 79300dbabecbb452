"""Partial outputs of a killed run() are removed when the task runs again; nobody else's files are touched."""

from __future__ import annotations

import os
import signal

from b2core.staging import TMP_MARKER

STEERING = """
import os
import time
import b2core as b2luigi


class Writer(b2luigi.Task):
    def output(self):
        yield self.add_to_output("data.txt")

    def run(self):
        with open(self.get_output_file_name("data.txt"), "w") as f:
            f.write("partial")
            f.flush()
            if os.environ.get("HANG"):
                open(os.environ["HANG"], "w").close()
                time.sleep(60)
            f.write(" and complete")


if __name__ == "__main__":
    b2luigi.process(Writer())
"""


def test_the_partial_output_of_a_killed_run_is_removed_by_the_next_run(workflow, tmp_path, wait) -> None:
    """SIGKILL while run() writes: the temporary file stays; the next run of the task removes it, not others."""
    workflow.write(STEERING)
    marker = tmp_path / "writing"
    process = workflow.start(env={"HANG": str(marker)})
    wait(marker.exists, what="run() to be writing")
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    partial = [p.name for p in workflow.path.iterdir() if TMP_MARKER in p.name]
    assert len(partial) == 1 and partial[0].startswith("data") and partial[0].endswith(".txt"), partial
    foreign = workflow.path / f"other{TMP_MARKER}0123456789.txt"
    foreign.write_text("someone else's")
    run = workflow.run()
    assert run.returncode == 0, run
    assert (workflow.path / "data.txt").read_text() == "partial and complete"
    assert sorted(p.name for p in workflow.path.iterdir() if TMP_MARKER in p.name) == [foreign.name]
