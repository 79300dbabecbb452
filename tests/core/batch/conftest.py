"""Batch tests: many cheap example-backend tasks whose jobs cost no Python start-up."""

from __future__ import annotations

import pytest

CHEAP_JOB = """#!/bin/sh
# A job that costs no Python start-up: sleeps, then writes the output named by the wrapper's env.
sleep "${DELAY:-0}"
if [ -n "$SLOW_ONCE" ] && mkdir "$SLOW_ONCE" 2>/dev/null; then sleep 60; fi  # first attempt hangs
mkdir -p "$(dirname "$OUT")"
echo "$VALUE" > "$OUT"
"""

CHEAP_STEERING = """
import os
import b2core as b2luigi

FAKE_JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cheap_job.sh")


class Cheap(b2luigi.Task):
    number = b2luigi.IntParameter()
    batch_system = "example"
    add_filename_to_cmd = False
    executable = ["/bin/sh", FAKE_JOB]
    if "RESUBMIT" in os.environ:
        max_resubmissions = int(os.environ["RESUBMIT"])
    worker_timeout = float(os.environ["TIMEOUT"]) if "TIMEOUT" in os.environ else None

    @property
    def env(self):
        return {
            "OUT": self.get_output_file_name("out.txt"),
            "DELAY": os.environ.get("DELAY_EVEN" if self.number % 2 == 0 else "DELAY", os.environ.get("DELAY", "0")),
            "VALUE": str(self.number),
            "SLOW_ONCE": os.environ.get("SLOW_ONCE", ""),
        }

    def output(self):
        yield self.add_to_output("out.txt")


class All(b2luigi.WrapperTask):
    def requires(self):
        for number in range(int(os.environ["COUNT"])):
            yield Cheap(number=number)


if __name__ == "__main__":
    workers = int(os.environ.get("WORKERS", os.environ["COUNT"]))
    b2luigi.process(All(), workers=workers, batch="NO_BATCH_FLAG" not in os.environ)
"""


@pytest.fixture
def cheap(example):
    """Example-backend tasks whose jobs are a tiny shell script; COUNT, DELAY(_EVEN), WORKERS, RESUBMIT, TIMEOUT,
    SLOW_ONCE and NO_BATCH_FLAG come from the environment."""
    (example.path / "cheap_job.sh").write_text(CHEAP_JOB)
    example.write(CHEAP_STEERING)
    return example
