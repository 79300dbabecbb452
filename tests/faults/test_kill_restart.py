"""Fault injection: the steering process of a 50-task batch run on the local backend is SIGKILLed at random
points, once or twice per seed, and restarted until it finishes. After every seed: each output present and
correct, no task's run() started twice, no temporary file left anywhere, exit code 0.

Every task is a tiny shell job (a Python start-up per job would make 20 seeds take far too long on a busy
machine); what b2core writes itself (wrappers, task specs, job folders, lock records, the job store) is
what the kills hit.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from b2core.staging import TMP_MARKER

TASKS = 50
SEEDS = int(os.environ.get("B2CORE_FAULT_SEEDS", "20"))

JOB = """#!/bin/sh
# one task: note that run() started, take a while, write the value (or the sum of the inputs) atomically
echo "$NUMBER $$" >> "$STARTS"
sleep "$DELAY"
if [ -n "$INPUTS" ]; then VALUE=0; for f in $INPUTS; do VALUE=$((VALUE + $(cat "$f"))); done; fi
mkdir -p "$(dirname "$OUT")"
echo "$VALUE" > "$OUT.job-partial"
mv "$OUT.job-partial" "$OUT"
"""

STEERING = """
import os
import b2core as b2luigi

JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "job.sh")


class ShellJob(b2luigi.Task):
    batch_system = "local"
    add_filename_to_cmd = False
    executable = ["/bin/sh", JOB]


class Part(ShellJob):
    number = b2luigi.IntParameter()

    @property
    def env(self):
        delay = (self.number * 37 + int(os.environ["SEED"]) * 11) % 3 / 10
        return {"NUMBER": str(self.number), "VALUE": str(self.number * 7), "DELAY": str(delay),
                "OUT": self.get_output_file_name("part.txt"), "STARTS": os.environ["STARTS"]}

    def output(self):
        yield self.add_to_output("part.txt")


class Total(ShellJob):
    def requires(self):
        for number in range(int(os.environ["TASKS"])):
            yield Part(number=number)

    @property
    def env(self):
        return {"NUMBER": "total", "DELAY": "0", "INPUTS": " ".join(self.get_input_file_names("part.txt")),
                "OUT": self.get_output_file_name("total.txt"), "STARTS": os.environ["STARTS"]}

    def output(self):
        yield self.add_to_output("total.txt")


if __name__ == "__main__":
    b2luigi.process(Total(), workers=int(os.environ["TASKS"]), batch=True)
"""


def leftovers(folder: Path) -> list[str]:
    """Temporary files of any writer: b2core's staged outputs, wrapper files, lock records, the jobs' own."""
    markers = (TMP_MARKER, ".tmp", ".job-partial")
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if any(m in p.name for m in markers))


def started(starts: Path) -> int:
    """How many run()s started so far."""
    return len(starts.read_text().splitlines()) if starts.exists() else 0


def run_until_done(folder: Path, env: dict[str, str], rng: random.Random) -> tuple[int, str, int]:
    """Start, SIGKILL at a random moment (a second time with probability 1/3), then run to the end.

    One kill in five lands at a random time of start-up and scheduling; the others once a random number
    of jobs started plus a random fraction of a second, so submitting and polling are hit often.
    """
    script = [sys.executable, str(folder / "steering.py")]
    starts = Path(env["STARTS"])
    kills = 0
    with open(folder / "run.log", "a") as log:
        for _ in range(1 + (rng.random() < 1 / 3)):
            process = subprocess.Popen(script, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
            if rng.random() < 0.2:
                time.sleep(rng.uniform(0.1, 2.0))
            else:
                enough, deadline = started(starts) + rng.randrange(TASKS), time.monotonic() + 60
                while started(starts) < enough and process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0, 0.3))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=60)
    final = subprocess.run(script, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    return final.returncode, final.stdout + final.stderr, kills


def wait_for_jobs(starts: Path, timeout: float = 60) -> None:
    """Wait until no job started by any run still lives, so the checks see final files."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [int(line.split()[1]) for line in starts.read_text().splitlines()] if starts.exists() else []
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return
        time.sleep(0.1)
    pytest.fail("jobs still running long after the run ended")


def test_killed_at_random_points_and_restarted_every_result_once_and_right(tmp_path: Path) -> None:
    """Twenty seeds of kill-and-restart: all outputs right, each run() started once, no temporary file, exit 0."""
    kills = 0
    for seed in range(SEEDS):
        folder = tmp_path / f"seed-{seed}"
        folder.mkdir()
        (folder / "steering.py").write_text(textwrap.dedent(STEERING))
        (folder / "job.sh").write_text(JOB)
        starts = folder / "starts.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_")}
        env.update(
            SEED=str(seed),
            TASKS=str(TASKS),
            STARTS=str(starts),
            XDG_CONFIG_HOME=str(tmp_path / "xdg"),
            B2CORE_POLL_INTERVAL="0.2",
            B2CORE_SUBMIT_INTERVAL="0.1",
            B2CORE_SHOW_PROGRESS="false",
        )
        code, output, seed_kills = run_until_done(folder, env, random.Random(seed))
        kills += seed_kills
        assert code == 0, f"seed {seed}: exit {code}\n{output[-3000:]}"
        wait_for_jobs(starts)
        parts = {int(p.parent.name.split("=")[1]): p.read_text().strip() for p in folder.glob("number=*/part.txt")}
        assert parts == {n: str(n * 7) for n in range(TASKS)}, f"seed {seed}"
        assert (folder / "total.txt").read_text().strip() == str(sum(n * 7 for n in range(TASKS))), f"seed {seed}"
        started = Counter(line.split()[0] for line in starts.read_text().splitlines())
        twice = {task: count for task, count in started.items() if count > 1}
        assert not twice and len(started) == TASKS + 1, f"seed {seed}: run() started more than once: {twice}"
        assert leftovers(folder) == [], f"seed {seed}"
    assert kills >= SEEDS, f"only {kills} kills landed while a run was going on"
