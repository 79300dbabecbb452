"""Batch-side scenarios: start-up of one job of a huge workflow, and command counts of a bulk submission.

Both run real steering scripts through their real command line, written into a scratch folder:

* **job start-up**: the steering process writes one leaf task's job wrapper (``executable_wrapper.sh``
  and ``task.json``, exactly as a batch submission does) for a fan-in workflow of N leaves; then
  the wrapper is started as a fresh process and the time from just before its start until the
  task's ``run()`` is entered is measured (``run()`` writes ``time.time()`` to a file). Compared
  with b2luigi's way of finding the task in a job, which rebuilds the graph from the root and walks
  it until the task id matches, written with plain luigi tasks.
* **batch submission**: N runnable tasks on the built-in ``test`` backend (``workers=N``,
  ``--batch``), each job a shell script that sleeps 3 s and writes the output; the steering process
  counts its backend's ``submit`` and ``query`` calls (each is one batch system command on a real backend).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STARTUP_B2CORE = """
import os
import sys
import time

import b2core


class Leaf(b2core.Task):
    i = b2core.IntParameter()

    def output(self):
        yield self.add_to_output("out.txt")

    def run(self):
        with open(os.environ["B2BENCH_MARK"], "w") as f:
            f.write(repr(time.time()))
        with open(self.get_output_file_name("out.txt"), "w") as f:
            f.write(str(self.i))


class Sum(b2core.Task):
    n = b2core.IntParameter()

    def requires(self):
        for i in range(self.n):
            yield Leaf(i=i)

    def output(self):
        yield self.add_to_output("sum.txt")

    def run(self):
        with open(self.get_output_file_name("sum.txt"), "w") as f:
            f.write(str(sum(int(open(p).read()) for p in self.get_input_file_names("out.txt"))))


if __name__ == "__main__":
    N = int(os.environ["B2BENCH_N"])
    if os.environ.get("B2BENCH_PREPARE"):
        # what the steering process does when it submits this leaf: task.json and executable_wrapper.sh
        from b2core.batch.wrapper import write_wrapper

        leaf = Leaf(i=N // 2)
        print(write_wrapper(leaf))
        print(leaf.task_id)
        sys.exit(0)
    b2core.process(Sum(n=N))
"""

STARTUP_LUIGI = '''
import os
import sys
import time

import luigi
from luigi.task import flatten


class Leaf(luigi.Task):
    i = luigi.IntParameter()

    def output(self):
        return luigi.LocalTarget(os.path.join("results", str(self.i), "out.txt"))

    def run(self):
        with open(os.environ["B2BENCH_MARK"], "w") as f:
            f.write(repr(time.time()))
        with self.output().open("w") as f:
            f.write(str(self.i))


class Sum(luigi.Task):
    n = luigi.IntParameter()

    def requires(self):
        return [Leaf(i=i) for i in range(self.n)]

    def output(self):
        return luigi.LocalTarget("results/sum.txt")


def task_iterator(task):
    """b2luigi.core.utils.task_iterator: every task of the graph once, depth first from the root."""
    seen = set()

    def walk(task):
        yield task
        for dep in flatten(task.deps()):
            if dep.task_id not in seen:
                seen.add(dep.task_id)
                yield from walk(dep)

    yield from walk(task)


if __name__ == "__main__":
    N = int(os.environ["B2BENCH_N"])
    if os.environ.get("B2BENCH_PREPARE"):
        print(Leaf(i=N // 2).task_id)
        sys.exit(0)
    # b2luigi's batch worker (run_as_batch_worker): rebuild the graph from the root, find the id, run it
    task_id = sys.argv[sys.argv.index("--task-id") + 1]
    for task in task_iterator(Sum(n=N)):
        if task.task_id == task_id:
            task.run()
            break
    else:
        sys.exit(f"task {task_id} not found")
'''


def _run_to_run(argv: list[str], cwd: Path, env: dict[str, str], mark: Path, timeout: float) -> dict[str, Any]:
    """Start argv; seconds from just before the start until run() wrote its mark, and the job's CPU time."""
    mark.unlink(missing_ok=True)
    with tempfile.TemporaryFile("w+") as err:
        start = time.time()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        deadline = start + timeout
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                proc.kill()
                pid, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        end = time.time()
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0 or not mark.exists():
            err.seek(0)
            return {"seconds": float("nan"), "status": f"ERROR rc={proc.returncode}", "stderr": err.read()[-2000:]}
    cpu = rusage.ru_utime + rusage.ru_stime
    return {"seconds": float(mark.read_text()) - start, "total": end - start, "cpu": cpu, "status": "SUCCESS"}


def measure_startup(engine: str, n: int, runs: int, tmp_dir: str | None, timeout: float) -> list[dict[str, Any]]:
    """Time `runs` job starts of one leaf of an n-leaf fan-in.

    engine: "b2core" (the wrapper with --task-spec, as submitted), "b2core-walk" (the same job
    command without --task-spec: b2core walks the graph from the root), "luigi" (b2luigi's graph
    rebuild, plain luigi tasks).
    """
    folder = Path(tempfile.mkdtemp(prefix=f"b2bench-startup-{engine}-", dir=tmp_dir))
    try:
        script = folder / "steering.py"
        script.write_text(STARTUP_LUIGI if engine == "luigi" else STARTUP_B2CORE)
        env = dict(os.environ, B2BENCH_N=str(n), B2BENCH_MARK=str(folder / "mark"), PYTHONDONTWRITEBYTECODE="1")
        env = {k: v for k, v in env.items() if not k.startswith("B2CORE_")}
        prepared = subprocess.run(
            [sys.executable, str(script)],
            cwd=folder,
            env=dict(env, B2BENCH_PREPARE="1"),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if prepared.returncode != 0:
            return [{"seconds": float("nan"), "status": "ERROR in preparation", "stderr": prepared.stderr[-2000:]}]
        lines = prepared.stdout.split()
        if engine == "b2core":
            argv = [lines[0]]  # the real executable_wrapper.sh: cd, exec python steering.py --batch-runner ...
        else:
            argv = [sys.executable, str(script), "--batch-runner", "--task-id", lines[-1]]
        return [_run_to_run(argv, folder, env, folder / "mark", timeout) for _ in range(runs)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


BATCH_JOB = """#!/bin/sh
# one job: wait a little (so that several polls see it running), then write the task's output (the
# wrapper passes OUT and VALUE); no Python start-up
sleep "${B2BENCH_JOB_SECONDS:-3}"
mkdir -p "$(dirname "$OUT")"
echo "$VALUE" > "$OUT"
"""

BATCH_STEERING = """
import json
import os
import time

import b2core
from b2core.batch import builtin

JOB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "job.sh")
CALLS = {"submit": [], "query": []}
_submit, _query = builtin.TestBackend.submit, builtin.TestBackend.query


def submit(self, specs):
    CALLS["submit"].append([time.monotonic(), len(specs)])
    return _submit(self, specs)


def query(self, job_ids):
    CALLS["query"].append([time.monotonic(), len(job_ids)])
    return _query(self, job_ids)


builtin.TestBackend.submit, builtin.TestBackend.query = submit, query


class Cheap(b2core.Task):
    number = b2core.IntParameter()
    batch_system = "test"
    add_filename_to_cmd = False
    executable = ["/bin/sh", JOB]

    @property
    def env(self):
        return {"OUT": self.get_output_file_name("out.txt"), "VALUE": str(self.number)}

    def output(self):
        yield self.add_to_output("out.txt")


class All(b2core.WrapperTask):
    def requires(self):
        for number in range(int(os.environ["B2BENCH_N"])):
            yield Cheap(number=number)


if __name__ == "__main__":
    start = time.monotonic()
    try:
        b2core.process(All(), workers=int(os.environ["B2BENCH_N"]), batch=True)
    finally:
        CALLS["seconds"] = time.monotonic() - start
        CALLS["start"] = start
        with open(os.environ["B2BENCH_CALLS"], "w") as f:
            json.dump(CALLS, f)
"""


def measure_batch(n: int, poll_interval: float, tmp_dir: str | None, timeout: float) -> dict[str, Any]:
    """Run n cheap tasks with --batch on the test backend; count submit and status calls."""
    folder = Path(tempfile.mkdtemp(prefix="b2bench-batch-", dir=tmp_dir))
    try:
        (folder / "job.sh").write_text(BATCH_JOB)
        (folder / "steering.py").write_text(BATCH_STEERING)
        calls_file = folder / "calls.json"
        env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_")}
        env.update(
            B2BENCH_N=str(n),
            B2BENCH_CALLS=str(calls_file),
            B2CORE_POLL_INTERVAL=str(poll_interval),
            B2CORE_SHOW_PROGRESS="false",
            PYTHONDONTWRITEBYTECODE="1",
        )
        proc = subprocess.run(
            [sys.executable, "steering.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
        )
        outputs = len(list(folder.glob("number=*/out.txt")))
        if not calls_file.exists():
            return {"seconds": float("nan"), "status": f"ERROR rc={proc.returncode}", "stderr": proc.stderr[-2000:]}
        calls = json.loads(calls_file.read_text())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    queries = [t for t, _ in calls["query"]]
    # the most status calls that fall into any window of one poll interval (a little slack for timer jitter)
    per_interval = max(
        (sum(1 for u in queries if t <= u < t + poll_interval * 0.95) for t in queries),
        default=0,
    )
    result = {
        "seconds": calls["seconds"],
        "status": "SUCCESS" if proc.returncode == 0 and outputs == n else f"rc={proc.returncode}, {outputs} outputs",
        "submit_calls": len(calls["submit"]),
        "submitted": sum(k for _, k in calls["submit"]),
        "submit_sizes": [k for _, k in calls["submit"]],
        "query_calls": len(queries),
        "query_sizes": [k for _, k in calls["query"]],
        "max_queries_per_interval": per_interval,
        "first_query_ids": calls["query"][0][1] if calls["query"] else 0,
    }
    if proc.returncode != 0:
        result["stderr"] = proc.stderr[-2000:]
    return result
