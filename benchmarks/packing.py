"""Packing benchmark (tasks_per_job) on the local Slurm cluster, every figure measured in this run.

    .venv/bin/python benchmarks/packing.py            # all scenarios, writes its section of docs/benchmarks.md
    .venv/bin/python benchmarks/packing.py --quick    # small counts, writes nothing
    .venv/bin/python benchmarks/packing.py --skip-100k

Scenarios (each a real steering script run as ``python steering.py`` with ``batch=True`` on Slurm;
a task's run() writes one small output file):

* 10,000 tasks with tasks_per_job=500, and 1,000 tasks with tasks_per_job=1 (one job per task, the
  path without packing) for the ratio of the time per task;
* 100,000 branches of one workflow (b2core.Workflow) with tasks_per_job=5000: wall time, sbatch calls
  (counted by a PATH shim in front of
  the real sbatch) and the steering process's peak RSS (from wait4);
* overhead per packed task inside a job: one pack of the 10,000-task run is run again as a fresh
  pack job (outputs removed), and once with only its first task; (time(N) - time(1)) / (N - 1),
  the run() of a task included.

Needs ``bash scripts/slurm-cluster.sh start`` (as root). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docs_section import write_section

STEERING = """
import b2core as b2luigi


class Trivial(b2luigi.Task):
    number = b2luigi.IntParameter()
    batch_system = "slurm"
    slurm_settings = {{"export": "NONE", "ntasks": 1, "mem": "500MB"}}
    tasks_per_job = {tasks_per_job}

    def output(self):
        yield self.add_to_output("out.txt")

    def run(self):
        with open(self.get_output_file_name("out.txt"), "w") as f:
            f.write("x")


class All(b2luigi.WrapperTask):
    def requires(self):
        for number in range({count}):
            yield Trivial(number=number)


if __name__ == "__main__":
    b2luigi.process(All(), workers={workers}, batch=True, log_level="WARNING")
"""

BRANCHES = """
import b2core as b2luigi


class Trivial(b2luigi.Workflow, b2luigi.Task):
    batch_system = "slurm"
    slurm_settings = {{"export": "NONE", "ntasks": 1, "mem": "500MB"}}
    tasks_per_job = {tasks_per_job}

    def create_branch_map(self):
        return dict.fromkeys(range({count}))

    def output(self):
        yield self.add_to_output("out.txt")

    def run(self):
        with open(self.get_output_file_name("out.txt"), "w") as f:
            f.write("x")


if __name__ == "__main__":
    b2luigi.process(Trivial(), batch=True, log_level="WARNING")
"""

SBATCH_SHIM = """#!/bin/sh
echo "$@" >> {log}
exec {real} "$@"
"""


def run_workflow(count: int, tasks_per_job: int, base: Path, kind: str, workers: int) -> dict[str, Any]:
    """Run the steering script once (tasks, or branches of one workflow); wall time, sbatch calls,
    steering CPU and peak RSS, exit code."""
    folder = Path(tempfile.mkdtemp(prefix=f"b2pack-{count}-{tasks_per_job}-", dir=base))
    template = BRANCHES if kind == "branches" else STEERING
    (folder / "steering.py").write_text(template.format(count=count, tasks_per_job=tasks_per_job, workers=workers))
    shims = folder / "shims"
    shims.mkdir()
    calls = folder / "sbatch.log"
    real = shutil.which("sbatch")
    (shims / "sbatch").write_text(SBATCH_SHIM.format(log=calls, real=real))
    (shims / "sbatch").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_")}
    env.update(PATH=f"{shims}{os.pathsep}{env['PATH']}")
    env.update(B2CORE_POLL_INTERVAL="2")
    start = time.monotonic()
    with open(folder / "steering.log", "w") as log:
        process = subprocess.Popen([sys.executable, "steering.py"], cwd=folder, env=env, stdout=log, stderr=log)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - start
    outputs = sum(1 for _ in folder.glob("*=*/out.txt"))
    return {
        "kind": kind,
        "count": count,
        "tasks_per_job": tasks_per_job,
        "workers": min(workers, count) if kind == "tasks" else 1,
        "wall": wall,
        "sbatch": len(calls.read_text().splitlines()) if calls.exists() else 0,
        "rss_mb": usage.ru_maxrss / 1024,
        "cpu": usage.ru_utime + usage.ru_stime,
        "exit": os.waitstatus_to_exitcode(status),
        "outputs": outputs,
        "folder": str(folder),
    }


def packed_task_overhead(folder: Path) -> dict[str, Any]:
    """Run one finished pack again as a fresh job, whole and with its first task only; time per task."""
    packs = sorted((folder / "task_files" / ".packs").iterdir())
    manifest = json.loads((packs[0] / "manifest.json").read_text())
    wrapper = (packs[0] / "executable_wrapper.sh").read_text()
    times, cpu = {}, {}
    for size in (1, len(manifest["tasks"])):
        copy = folder / "task_files" / ".packs" / f"bench-{size}"
        shutil.rmtree(copy, ignore_errors=True)
        copy.mkdir()
        (copy / "manifest.json").write_text(json.dumps({**manifest, "tasks": manifest["tasks"][:size]}))
        script = wrapper.replace(str(packs[0]), str(copy)).replace(packs[0].name, copy.name)
        (copy / "executable_wrapper.sh").write_text(script)
        (copy / "executable_wrapper.sh").chmod(0o755)
        for entry in manifest["tasks"][:size]:
            number = re.search(r"_(\d+)_", entry["task_id"])
            assert number, entry
            (folder / f"number={number[1]}" / "out.txt").unlink(missing_ok=True)
        start = time.monotonic()
        process = subprocess.Popen([str(copy / "executable_wrapper.sh")], stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        assert status == 0, f"the pack job of {size} task(s) failed"
        times[size] = time.monotonic() - start
        cpu[size] = usage.ru_utime + usage.ru_stime
        done = len(os.listdir(copy / "done"))
        assert done == size, f"{done} of {size} tasks left an exit marker"
    n = len(manifest["tasks"])
    return {
        "tasks": n,
        "one": times[1],
        "all": times[n],
        "per_task_ms": (times[n] - times[1]) / (n - 1) * 1000,
        "per_task_cpu_ms": (cpu[n] - cpu[1]) / (n - 1) * 1000,
    }


def markdown(rows: list[dict[str, Any]], overhead: dict[str, Any], load: list[float]) -> str:
    """The docs section: scenario table, ratio, overhead, targets."""
    by = {(r["count"], r["tasks_per_job"]): r for r in rows}
    lines = [
        "## Packing (tasks_per_job) on the local Slurm cluster",
        "",
        f"Generated by `.venv/bin/python benchmarks/packing.py` on {time.strftime('%Y-%m-%d')}; "
        "every task's run() writes one small file; Slurm is the project's 2-core local cluster "
        f"(`scripts/slurm-cluster.sh`), shared with other test runs (1-minute load average "
        f"{min(load):.1f} to {max(load):.1f} during the run).",
        "",
        "| what | tasks_per_job | workers | wall | per task | steering CPU | sbatch calls | steering peak RSS "
        "| all outputs |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        complete = "yes" if r["outputs"] == r["count"] else "no"
        lines.append(
            f"| {r['count']:,} {r['kind']} | {r['tasks_per_job']:,} | {r['workers']:,} | {r['wall']:.1f} s "
            f"| {r['wall'] / r['count'] * 1000:.2f} ms "
            f"| {r['cpu']:.1f} s | {r['sbatch']} | {r['rss_mb']:.0f} MB | {complete} |"
        )
    lines.append("")
    packed = by.get((10_000, 500))
    single = next((r for r in rows if r["tasks_per_job"] == 1), None)
    if packed and single:
        ratio = (single["wall"] / single["count"]) / (packed["wall"] / packed["count"])
        lines.append(
            f"Wall time per task, one job per task ({single['count']:,} tasks) / packs of 500: **{ratio:.0f}x**."
        )
        lines.append("")
    lines.append(
        f"Overhead per packed task inside a job (one pack of {overhead['tasks']} run again: "
        f"{overhead['all']:.2f} s, its first task alone {overhead['one']:.2f} s): "
        f"**{overhead['per_task_ms']:.2f} ms** wall, **{overhead['per_task_cpu_ms']:.2f} ms** CPU per task, "
        "the trivial run() included."
    )
    lines += ["", "| target | measured | met |", "|---|---:|---|"]
    targets = []
    if packed:
        targets.append(("10,000 tasks, tasks_per_job=500 < 60 s", f"{packed['wall']:.1f} s", packed["wall"] < 60))
    big = by.get((100_000, 5000))
    if big:
        targets.append(("100,000 branches, tasks_per_job=5000 < 5 min", f"{big['wall']:.0f} s", big["wall"] < 300))
        targets.append(("100,000 branches: at most 30 sbatch calls", str(big["sbatch"]), big["sbatch"] <= 30))
        targets.append(("100,000 branches: steering < 1.5 GB", f"{big['rss_mb']:.0f} MB", big["rss_mb"] < 1536))
    per_task = overhead["per_task_ms"]
    targets.append(("overhead per packed task < 5 ms (wall)", f"{per_task:.2f} ms", per_task < 5))
    lines += [f"| {name} | {value} | {'yes' if met else 'no'} |" for name, value, met in targets]
    return "\n".join(lines)


def big_markdown(row: dict[str, Any], load: float) -> str:
    """The docs section of the 100,000-branch run (run on its own with --only-100k)."""
    complete = "yes" if row["outputs"] == row["count"] else "no"
    return "\n".join(
        [
            "### 100,000 branches, tasks_per_job=5000 (`benchmarks/packing.py --only-100k`)",
            "",
            f"One `b2core.Workflow` with 100,000 branches on the local Slurm cluster, {time.strftime('%Y-%m-%d')}, "
            f"1-minute load average {load:.1f} at the start.",
            "",
            "| target | measured | met |",
            "|---|---:|---|",
            f"| wall < 5 min | {row['wall']:.0f} s | {'yes' if row['wall'] < 300 else 'no'} |",
            f"| at most 30 sbatch calls | {row['sbatch']} | {'yes' if row['sbatch'] <= 30 else 'no'} |",
            f"| steering < 1.5 GB | {row['rss_mb']:.0f} MB | {'yes' if row['rss_mb'] < 1536 else 'no'} |",
            f"| all outputs written | {row['outputs']:,} | {complete} |",
            "",
            f"Steering CPU {row['cpu']:.0f} s.",
        ]
    )


def main() -> None:
    """Run the scenarios, print the section, and (full mode) write it into docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts; writes nothing")
    parser.add_argument("--skip-100k", action="store_true", help="leave out the 100,000-branch scenario")
    parser.add_argument("--only-100k", action="store_true", help="run only the 100,000-branch scenario")
    parser.add_argument("--tmp-dir", default=None, help="where the workflows are written")
    parser.add_argument("--single-count", type=int, default=1_000, help="tasks of the one-job-per-task run")
    parser.add_argument("--workers", type=int, default=10_000, help="luigi workers (tasks in flight) of task runs")
    options = parser.parse_args()
    if shutil.which("sbatch") is None:
        sys.exit("Slurm is not installed: run bash scripts/slurm-cluster.sh start (as root)")
    base = Path(tempfile.mkdtemp(prefix="b2pack-", dir=options.tmp_dir))
    if options.only_100k:
        load = os.getloadavg()[0]
        row = run_workflow(100_000, 5000, base, "branches", 1)
        print(json.dumps(row), flush=True)
        write_section("packing-100k", big_markdown(row, load))
        shutil.rmtree(base, ignore_errors=True)
        return
    scenarios = [(200, 50, "tasks"), (20, 1, "tasks"), (1000, 100, "branches")]
    if not options.quick:
        scenarios = [(10_000, 500, "tasks"), (options.single_count, 1, "tasks")]
        scenarios += [] if options.skip_100k else [(100_000, 5000, "branches")]
    rows, load = [], []
    for count, per_job, kind in scenarios:
        load.append(os.getloadavg()[0])
        row = run_workflow(count, per_job, base, kind, options.workers)
        print(json.dumps(row), flush=True)
        rows.append(row)
    overhead = packed_task_overhead(Path(rows[0]["folder"]))
    print(json.dumps(overhead), flush=True)
    text = markdown(rows, overhead, load)
    print(text)
    if not options.quick:
        write_section("packing", text)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
