"""b2core benchmarks against plain luigi, in one run: local scheduling, job start-up, batch command counts.

Usage::

    .venv/bin/python benchmarks/run.py            # full: medians of several runs, writes docs/benchmarks.md
    .venv/bin/python benchmarks/run.py --quick    # smoke run: small sizes, luigi at 1,000 only, once each

Local scenarios run each measurement in a fresh child process (peak memory is that run's own, read
with os.wait4's rusage of the child) and time only the build call, for three engines:

* ``b2core``: the workflow written with ``b2core.Task`` and run by ``b2core.process(...)`` in-process
  (``workers=1``): b2core's worker, staged outputs, progress tracking and the linear scheduler;
* ``linear``: the same workflow written with plain ``luigi.Task``, run by ``luigi.build`` with only
  the scheduler and worker replaced (``b2core.scheduling.WorkerSchedulerFactory``), which isolates
  the scheduling cost;
* ``luigi``: plain ``luigi.Task`` and ``luigi.build(..., local_scheduler=True)``, at sizes luigi finishes.

The job start-up and batch scenarios are in benchmarks/jobs.py. Nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from docs_section import DOCS, marked_sections

HERE = Path(__file__).resolve().parent
NAN = float("nan")
POLL_INTERVAL = 1.0  # seconds, for the batch scenario
QUICK_LUIGI_MAX = 1_000  # --quick measures luigi only up to this size


@dataclass
class Scenario:
    """One row of a table: a workflow shape, its size and how often each engine is measured (full mode)."""

    name: str
    n: int
    runs: dict[str, int]  # engine -> number of runs in full mode
    kind: str = "local"  # local | startup | batch
    big: bool = False  # skipped by --quick
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def scenarios() -> list[Scenario]:
    """The benchmark matrix (a full run takes about ten minutes of CPU; the linear column is measured once)."""
    b2core = {"b2core": 3, "linear": 1}
    return [
        Scenario("fan-in", 1_000, {**b2core, "luigi": 3}),
        Scenario("fan-in", 3_000, {**b2core, "luigi": 1}),
        Scenario("fan-in", 10_000, b2core),
        Scenario("fan-in", 100_000, {"b2core": 2}, big=True),
        Scenario("chain", 1_000, {**b2core, "luigi": 1}),
        Scenario("chain", 10_000, b2core, big=True),
        Scenario("diamond", 1_000, {**b2core, "luigi": 1}),
        Scenario("diamond", 5_000, b2core, big=True),
        Scenario("shared-roots", 1_000, {**b2core, "luigi": 1}),
        Scenario("rerun", 1_000, {**b2core, "luigi": 3}),
        Scenario("rerun", 3_000, {**b2core, "luigi": 1}),
        Scenario("rerun", 100_000, {"b2core": 3, "linear": 1, "luigi": 1}, big=True),
        Scenario("job start-up", 1_000, {"b2core": 5, "b2core-walk": 1, "luigi": 5}, kind="startup"),
        Scenario("job start-up", 3_000, {"b2core": 5, "b2core-walk": 1, "luigi": 3}, kind="startup"),
        Scenario("job start-up", 100_000, {"b2core": 5, "b2core-walk": 1, "luigi": 1}, kind="startup"),
        Scenario("batch", 1_000, {"b2core": 3}, kind="batch"),
    ]


# --------------------------------------------------------------------------- child side (local scenarios)


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Build one workflow in this (fresh) process and report how long the build took."""
    sys.path.insert(0, str(HERE))
    from workloads import fan_in_floor, make_workload, prepare_complete, roots

    out_dir = tempfile.mkdtemp(prefix=f"b2bench-{spec['scenario']}-", dir=spec.get("tmp_dir"))
    try:
        os.chdir(out_dir)
        if spec["engine"] == "floor":
            assert spec["scenario"] == "fan-in", "the floor is written for the fan-in only"
            start, cpu_start = time.perf_counter(), time.process_time()
            fan_in_floor(spec["n"], out_dir)
            return {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu_start, "status": "SUCCESS"}
        api = "b2core" if spec["engine"] in ("b2core", "bare") else "luigi"
        workload = make_workload(api, out_dir)
        if api == "b2core":
            import b2core

            for key in ("log_dir", "task_file_dir"):
                b2core.set_setting(key, os.path.join(out_dir, key))
            b2core.set_setting("show_progress", False)
        if spec["scenario"] == "rerun":
            prepare_complete(spec["scenario"], spec["n"], workload)
        tasks = roots(spec["scenario"], spec["n"], workload)
        start, cpu_start = time.perf_counter(), time.process_time()
        if spec["engine"] == "b2core":
            # what a steering script's b2core.process(...) does, minus reading sys.argv
            b2core.process(tasks, argv=[], workers=1, log_level=spec["log_level"])
            status = "SUCCESS"  # process() exits non-zero otherwise
        elif spec["engine"] == "bare":
            import bare_loop

            bare_loop.build(tasks)
            status = "SUCCESS"  # build() raises otherwise
        else:
            import luigi

            factory = None
            if spec["engine"] == "linear":
                from b2core.scheduling import WorkerSchedulerFactory

                factory = WorkerSchedulerFactory()
            result = luigi.build(
                tasks,
                worker_scheduler_factory=factory,
                local_scheduler=True,
                workers=1,
                detailed_summary=True,
                log_level=spec["log_level"],
            )
            status = result.status.name
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        return {"seconds": seconds, "cpu": cpu, "status": status}
    finally:
        os.chdir("/")
        shutil.rmtree(out_dir, ignore_errors=True)


# --------------------------------------------------------------------------- parent side


def default_tmp_dir() -> str | None:
    """A RAM-backed folder when there is one, so that disk latency does not drown scheduling costs."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def measure_local(scenario: Scenario, engine: str, options: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one child process; return its timing, status and peak RSS (MB)."""
    spec = {"scenario": scenario.name, "n": scenario.n, "engine": engine, **options}
    env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_")}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(spec)], stdout=out, stderr=err, env=env
        )
        deadline = time.time() + timeout
        while True:
            pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                proc.kill()
                pid, status, rusage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = [line for line in out.read().splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = err.read()[-2000:]
            return {"seconds": NAN, "status": f"ERROR rc={proc.returncode}", "stderr": tail, "rss_mb": NAN}
        data = json.loads(lines[-1])
    data["rss_mb"] = rusage.ru_maxrss / 1024.0  # Linux reports KiB
    return data


def measure(s: Scenario, engine: str, options: dict[str, Any], runs: int, timeout: float) -> list[dict[str, Any]]:
    """All runs of one engine on one scenario."""
    from jobs import measure_batch, measure_startup

    if s.kind == "startup":
        return measure_startup(engine, s.n, runs, options["tmp_dir"], timeout)
    if s.kind == "batch":
        return [measure_batch(s.n, POLL_INTERVAL, options["tmp_dir"], timeout) for _ in range(runs)]
    return [measure_local(s, engine, options, timeout) for _ in range(runs)]


def median(values: list[float]) -> float:
    """Median of the measured (non-NaN) values."""
    values = [v for v in values if v == v]
    return statistics.median(values) if values else NAN


def fmt(x: float, digits: int = 2) -> str:
    """Number for the table, '-' when not measured."""
    return "-" if x != x else f"{x:,.{digits}f}"


def ratio(a: float, b: float) -> float:
    """a / b, NaN when either is missing."""
    return a / b if a == a and b == b and b > 0 else NAN


def peak_rss(s: Scenario | None, engine: str = "b2core") -> float:
    """Largest peak RSS (MB) over an engine's runs."""
    values = [r["rss_mb"] for r in (s.results.get(engine, []) if s else []) if r.get("rss_mb", NAN) == r.get("rss_mb")]
    return max(values, default=NAN)


def stat(s: Scenario, engine: str, key: str = "seconds") -> float:
    """Median of one figure over an engine's runs."""
    return median([r.get(key, NAN) for r in s.results.get(engine, [])])


def statuses(s: Scenario) -> str:
    """Every status seen in a scenario's runs."""
    seen = sorted({r["status"] for runs in s.results.values() for r in runs})
    return "/".join(seen) if seen else "-"


def runs_text(s: Scenario, engines: tuple[str, ...]) -> str:
    """How many runs each engine had, e.g. 3/3/1."""
    return "/".join(str(len(s.results.get(e, []))) for e in engines)


def local_table(rows: list[Scenario], task_count: Any) -> str:
    """Markdown table of the local scenarios."""
    lines = [
        "| scenario | N | tasks | b2core s | b2core CPU s | b2core peak RSS MB | linear s | luigi s | luigi CPU s "
        "| luigi / b2core (wall) | luigi / b2core (CPU) | runs b2core/linear/luigi | status |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for s in rows:
        b, b_cpu, l_s, l_cpu = stat(s, "b2core"), stat(s, "b2core", "cpu"), stat(s, "luigi"), stat(s, "luigi", "cpu")
        rss = peak_rss(s)
        lines.append(
            f"| {s.name} | {s.n:,} | {task_count(s.name, s.n):,} | {fmt(b)} | {fmt(b_cpu)} | {fmt(rss, 0)} | "
            f"{fmt(stat(s, 'linear'))} | {fmt(l_s)} | {fmt(l_cpu)} | {fmt(ratio(l_s, b), 1)} | "
            f"{fmt(ratio(l_cpu, b_cpu), 1)} | {runs_text(s, ('b2core', 'linear', 'luigi'))} | {statuses(s)} |"
        )
    return "\n".join(lines)


def startup_table(rows: list[Scenario]) -> str:
    """Markdown table of the job start-up scenarios."""
    lines = [
        "| workflow tasks | b2core from task.json: s to run() | job CPU s | b2core walking the graph: s to run() "
        "| job CPU s | b2luigi-style rebuild (plain luigi): s to run() | job CPU s | rebuild / b2core (wall) "
        "| rebuild / b2core (CPU) | runs | status |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for s in rows:
        b, rebuild = stat(s, "b2core"), stat(s, "luigi")
        b_cpu, r_cpu = stat(s, "b2core", "cpu"), stat(s, "luigi", "cpu")
        lines.append(
            f"| {s.n + 1:,} | {fmt(b, 3)} | {fmt(b_cpu, 3)} | {fmt(stat(s, 'b2core-walk'), 3)} | "
            f"{fmt(stat(s, 'b2core-walk', 'cpu'), 3)} | {fmt(rebuild, 3)} | {fmt(r_cpu, 3)} | "
            f"{fmt(ratio(rebuild, b), 1)} | {fmt(ratio(r_cpu, b_cpu), 1)} | "
            f"{runs_text(s, ('b2core', 'b2core-walk', 'luigi'))} | {statuses(s)} |"
        )
    return "\n".join(lines)


def batch_table(rows: list[Scenario]) -> str:
    """Markdown table of the batch submission scenario."""
    lines = [
        "| runnable tasks | wall s | submit commands | jobs per submission | status commands "
        "| most status commands in one poll interval | jobs per status command | runs | status |",
        "|---:|---:|---:|---|---:|---:|---|---|---|",
    ]
    for s in rows:
        runs = s.results.get("b2core", [])
        worst = max(runs, key=lambda r: (r.get("submit_calls", 0), r.get("query_calls", 0)), default={})
        lines.append(
            f"| {s.n:,} | {fmt(stat(s, 'b2core'))} | {max((r.get('submit_calls', 0) for r in runs), default=0)} | "
            f"{', '.join(map(str, worst.get('submit_sizes', [])))} | "
            f"{max((r.get('query_calls', 0) for r in runs), default=0)} | "
            f"{max((r.get('max_queries_per_interval', 0) for r in runs), default=0)} | "
            f"{', '.join(map(str, worst.get('query_sizes', [])))} | {len(runs)} | {statuses(s)} |"
        )
    return "\n".join(lines)


RACE = (
    "the job had written its output and exit code, but the built-in `local`/`test` backend's `query` "
    "checks for the exit-code file before it checks whether the job's process is alive, so a job that "
    "ends between the two checks is reported KILLED (`core/batch/builtin.py`, `LocalBackend.query`; "
    "checking `_alive(pid)` first and the exit-code file second closes the gap). Not fixed here: "
    "`core/` belongs to others."
)


def batch_failures(rows: list[Scenario]) -> str:
    """What went wrong in failed batch runs (the task failure lines of b2core's summary)."""
    notes = []
    for s in rows:
        for number, r in enumerate(s.results.get("b2core", []), 1):
            if s.kind != "batch" or r["status"] == "SUCCESS":
                continue
            reasons = [line.strip() for line in r.get("stderr", "").splitlines() if "failed on" in line]
            text = "; ".join(reasons) or r["status"]
            if "without exit code" in text:
                text += f". Cause: {RACE}"
            notes.append(f"- Run {number} of {len(s.results['b2core'])} ({r['status']}): {text}")
    return ("Failed runs:\n\n" + "\n".join(notes)) if notes else "Every run succeeded."


def find(rows: list[Scenario], name: str, n: int) -> Scenario | None:
    """The measured scenario of that name and size, if it ran."""
    return next((s for s in rows if s.name == name and s.n == n and s.results), None)


def targets(rows: list[Scenario], task_count: Any) -> str:
    """Each target of issue 7 with the measured figure and whether it was met (wall clock and CPU)."""
    lines = ["| target | measured (wall) | measured (CPU) | met |", "|---|---:|---:|---|"]
    missed: list[str] = []

    def add(text: str, wall: float, cpu: float, limit: float, unit: str = " s") -> None:
        if wall != wall:
            lines.append(f"| {text} | not measured | | |")
            return
        met = "yes" if wall < limit else ("CPU only (machine loaded)" if cpu == cpu and cpu < limit else "**no**")
        lines.append(f"| {text} | {fmt(wall)}{unit} | {fmt(cpu)}{unit} | {met} |")

    def scaled(name: str, small: int, large: int, key: str = "seconds") -> float:
        """time(large) / time(small), normalised to a tenfold task count (target <= 12)."""
        a, b = find(rows, name, small), find(rows, name, large)
        if not (a and b):
            return NAN
        growth = task_count(name, large) / task_count(name, small)
        return ratio(stat(b, "b2core", key), stat(a, "b2core", key)) * 10 / growth

    f10, f100 = find(rows, "fan-in", 10_000), find(rows, "fan-in", 100_000)
    add("fan-in 10,000 < 10 s", stat(f10, "b2core") if f10 else NAN, stat(f10, "b2core", "cpu") if f10 else NAN, 10)
    add(
        "fan-in 100,000 < 100 s",
        stat(f100, "b2core") if f100 else NAN,
        stat(f100, "b2core", "cpu") if f100 else NAN,
        100,
    )
    rss = peak_rss(f100)
    add("fan-in 100,000 peak RSS < 1 GB", rss, rss, 1024, " MB")
    for name, small, large in (("fan-in", 10_000, 100_000), ("chain", 1_000, 10_000), ("diamond", 1_000, 5_000)):
        label = "" if large == 10 * small else " x 10 / (task count ratio)"
        add(
            f"{name}: time({large:,}) / time({small:,}){label} <= 12 (linear)",
            scaled(name, small, large),
            scaled(name, small, large, key="cpu"),
            12.0001,
            "",
        )
    r100 = find(rows, "rerun", 100_000)
    add(
        "re-run of a finished 100,000-task workflow < 10 s",
        stat(r100, "b2core") if r100 else NAN,
        stat(r100, "b2core", "cpu") if r100 else NAN,
        10,
    )
    if r100 and not stat(r100, "b2core") < 10:
        runs = ", ".join(f"{fmt(r['seconds'])} s wall / {fmt(r.get('cpu', NAN))} s CPU" for r in r100.results["b2core"])
        missed.append(
            f"- **The re-run of a finished 100,000-task workflow misses the 10 s target** ({runs}). It is not "
            f"the scheduler: plain luigi tasks on b2core's scheduler take {fmt(stat(r100, 'linear'))} s "
            f"({fmt(stat(r100, 'linear', 'cpu'))} s CPU) and plain luigi with its own scheduler "
            f"{fmt(stat(r100, 'luigi'))} s ({fmt(stat(r100, 'luigi', 'cpu'))} s CPU) on the same workflow. "
            "The time goes into luigi's Task API and b2core's settings look-ups, see *Where the time goes*; "
            "the two core changes measured there would bring it to about 5 s."
        )
    s100 = find(rows, "job start-up", 100_000)
    add(
        "job of a 100,000-task workflow: process start to run() < 0.5 s",
        stat(s100, "b2core") if s100 else NAN,
        stat(s100, "b2core", "cpu") if s100 else NAN,
        0.5,
    )
    for s in rows:
        if s.kind == "batch" and s.results:
            runs = s.results["b2core"]
            submits = max(r.get("submit_calls", 99) for r in runs)
            per_poll = max(r.get("max_queries_per_interval", 99) for r in runs)
            failed = sum(r["status"] != "SUCCESS" for r in runs)
            counts = submits <= 10 and per_poll <= 1
            met = (
                "yes" if counts and not failed else ("**no**" if not counts else f"counts: yes; {failed} run(s) failed")
            )
            lines.append(
                f"| batch, {s.n:,} runnable tasks: <= 10 submit commands, 1 status command per poll interval "
                f"| {submits} submit, at most {per_poll} status per interval | | {met} |"
            )
            if failed:
                missed.append(
                    f"- **Batch: {failed} of {len(runs)} runs failed a task** although the command counts were "
                    "met; see *Batch submission* below (a race in the built-in local/test backend)."
                )
    if missed:
        lines += ["", *missed]
    return "\n".join(lines)


def machine() -> str:
    """Machine description for the docs: CPU, cores, memory, Python and luigi versions."""
    import luigi

    mem, cpu = "?", platform.processor() or "?"
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
        with open("/proc/cpuinfo") as f:
            info = dict(line.split(":", 1) for line in f.read().split("\n\n")[0].splitlines() if ":" in line)
        info = {k.strip(): v.strip() for k, v in info.items()}
        cpu = info.get("model name", cpu)
        if "cpu MHz" in info:
            cpu += f" at {float(info['cpu MHz']):.0f} MHz"
        if "hypervisor" in info.get("flags", "").split():
            cpu += " (virtual machine)"
    except (OSError, StopIteration, ValueError):
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or str(os.cpu_count())
    return (
        f"- CPU: {cpu}, {nproc} cores available (nproc)\n- RAM: {mem}\n- OS: {platform.platform()}\n"
        f"- Python {platform.python_version()}, luigi {luigi.__version__}\n"
        f"- date: {datetime.date.today().isoformat()}"
    )


DOC_TEMPLATE = """# Benchmarks

Generated by `{command}`, which took {minutes:.0f} minutes; run it again to refresh this page
(`bash scripts/run-benchmarks.sh` does the same on a fresh machine, creating `.venv` first; add
`--quick` for a smoke run of a few minutes that writes nothing). Benchmarks are not part of the test
suite.

## Machine

{machine}

1-minute load average during the run (sampled before each measurement): min {load_min:.1f}, median
{load_median:.1f}, max {load_max:.1f} on {nproc} cores. Other jobs (test suites) ran on the machine at the same
time, so wall-clock times are inflated by waiting for a core; the CPU columns (the process's own
CPU time) are much less affected by that and are given next to every wall time.

## Targets

{targets}

"met" compares the wall-clock median with the target; "CPU only" means that the process's own CPU time
is within the target but the wall time on this loaded machine is not.

## Local runs

{local_table}

Times are medians of the runs (wall-clock seconds of the build call alone, in a fresh process per
run; interpreter start and imports excluded); "CPU s" is the process CPU time of the same call; peak
RSS is the child's `ru_maxrss` (the whole process). Task outputs are written to `{tmp_dir}`.

- **b2core**: the workflow written with `b2core.Task` (`add_to_output`, `get_input_file_names`) and run
  with `b2core.process(...)` in-process, `workers=1`: b2core's worker with staged outputs, progress
  tracking and the linear scheduler (`b2core.scheduling`).
- **linear**: the same workflow with plain `luigi.Task`, run by `luigi.build` with only the scheduler and
  worker replaced (`worker_scheduler_factory=b2core.scheduling.WorkerSchedulerFactory()`), to show the
  scheduling cost alone.
- **luigi**: plain `luigi.Task`, `luigi.build(..., local_scheduler=True, workers=1)`, measured at the
  sizes it finishes in reasonable time (luigi's scheduler walks every pending task on each
  `get_work` call, so a run costs O(N^2)). The ratio columns are luigi's time divided by b2core's.

Scenarios:

- **fan-in N**: N trivial leaf tasks (each writes one small file) and one sum task requiring all of them.
- **chain N**: N tasks, each requiring the previous one.
- **diamond N**: one top task requiring N middle tasks; middle task i requires leaves i and i+1 (mod N),
  so every leaf is shared by two middles (2N+1 tasks).
- **shared-roots N**: N/5 root tasks given together, all requiring the same incomplete chain of N tasks.
- **rerun N**: the fan-in with every output already present, built with all N+1 tasks as roots:
  nothing runs, every task is checked with `complete()`. (With the finished sum task alone as root,
  one `complete()` call ends the run.)

## Job start-up

{startup_table}

Seconds from just before the job process is started until the task's `run()` is entered (it writes
`time.time()` to a file), median of the runs; "job CPU s" is the CPU time of the whole job process
(start to exit). The workflow is a fan-in of N leaves; the job runs leaf N/2.

- **b2core from task.json**: the steering process writes the leaf's `task.json` and
  `executable_wrapper.sh` (`b2core.batch.wrapper.write_wrapper`, as at submission); the job is the
  real wrapper (`bash executable_wrapper.sh` -> `python steering.py --batch-runner --task-id ...
  --task-spec .../task.json`), which instantiates the task from its family and parameters without
  building the graph. Python start-up and imports (luigi, b2core) are included.
- **b2core walking the graph**: the same job command without `--task-spec` (b2core's fallback):
  the graph is rebuilt from the root until the task id is found.
- **b2luigi-style rebuild**: what a b2luigi job does (`run_as_batch_worker`): rebuild the graph with
  plain luigi tasks from the root, walk it until the task id matches, call `run()`.

## Batch submission

{batch_table}

{batch_failures}

N cheap tasks on the built-in `test` backend (each job is a shell script that sleeps 3 s, so that
several polls see the jobs running, and writes the output), run with
`b2core.process(All(), workers=N, batch=True)`, `poll_interval` {poll} s. The steering process counts
its backend's `submit` and `query` calls; on a real batch system each is one command (sbatch,
squeue, condor_submit, ...). b2luigi, for comparison, submits one job per command (1,000 commands
here); plain luigi has no batch mode. The behaviour is also checked, by counts only, in
`tests/core/batch/test_submission_counts.py`.

{profile}
"""

PROFILE = """## Where the time goes

The scheduler is no longer the cost: the **linear** column (plain luigi tasks with b2core's
scheduler and worker) grows linearly, while luigi's own scheduler is quadratic whenever many tasks
are pending (fan-in, diamond, shared roots). What b2core adds on top of the linear column is its
Task API, per task and so also linear.

A CPU profile (`cProfile` with a CPU-time clock) of b2core's fan-in of 10,000 showed two hot spots,
both since fixed in the core:

- `luigi.Task.get_params` walked `dir(cls)` on every call, 14 times per task (instance-cache
  look-ups in `Register.__call__`, `to_str_params`, output folder names, `get_param_values`), about
  half of the time. `b2core.Task` now caches the list per class; a metaclass notices parameters
  set on a class later (as `inherits` does) and invalidates the caches.
- `b2core.settings.get_setting`, 18 look-ups per task, walked the list of settings files each time
  (about a fifth). Look-ups now share one snapshot of the existing files per recheck period (2 s),
  so a changed file, working folder or `B2CORE_SETTINGS_JSON` is still noticed.

Measured before and after those two changes (`--quick`, one run each, wall seconds): fan-in of
10,000 8.65 -> 4.92, re-run of 3,000 0.45 -> 0.25; the re-run of 100,000 went from about 16 s
(CPU, earlier full run) to the figure in the table above. What remains per task is luigi's own
worker and execution summary (which formats every task with `repr`) and `output()`, called about
10 times per leaf task by luigi's `complete()`, `input()` and the staging of outputs.

In a job, nearly all of the start-up is the interpreter and the imports of luigi and b2core
(b2core adds about 0.05-0.1 s of imports to luigi's, mostly pydantic via `b2core.settings_models`
and tenacity); finding the task from `task.json` costs milliseconds whatever the size of the
workflow, while the b2luigi-style rebuild grows with the graph and already costs more than b2core's
extra imports at 3,000 tasks.
"""


def save_results(path: str | None, rows: list[Scenario], loads: list[float], started: float) -> None:
    """Write every result so far (a long run can be turned into the page with --from-results)."""
    if path:
        data = {"loads": loads, "seconds": time.time() - started, "rows": [[s.name, s.n, s.results] for s in rows]}
        Path(path).write_text(json.dumps(data))


def load_results(path: str) -> tuple[list[Scenario], list[float], float]:
    """The scenarios and load averages of an earlier (possibly unfinished) run."""
    data = json.loads(Path(path).read_text())
    saved = {(name, n): results for name, n, results in data["rows"]}
    rows = [s for s in scenarios() if saved.get((s.name, s.n))]
    for s in rows:
        s.results = saved[(s.name, s.n)]
    return rows, data["loads"], data["seconds"]


def run_matrix(args: argparse.Namespace) -> tuple[list[Scenario], list[float], float]:
    """Measure every selected scenario and engine, printing each run."""
    if args.from_results:
        return load_results(args.from_results)
    rows = [
        s
        for s in scenarios()
        if not (args.quick and s.big) and (not args.only or s.name in args.only or s.kind in args.only)
    ]
    options = {"log_level": args.log_level, "tmp_dir": args.tmp_dir}
    loads: list[float] = []
    started = time.time()
    # the cheap job and batch scenarios first, then the local ones in table order
    for s in sorted(rows, key=lambda s: s.kind == "local"):
        for engine, full_runs in s.runs.items():
            if engine == "luigi" and args.no_luigi:
                continue
            if args.quick and engine in ("luigi", "b2core-walk") and s.n > QUICK_LUIGI_MAX:
                continue
            runs = 1 if args.quick else full_runs
            loads.append(os.getloadavg()[0])
            results = measure(s, engine, options, runs, args.timeout)
            s.results.setdefault(engine, []).extend(results)
            save_results(args.results, rows, loads, started)
            for r in results:
                extra = ""
                if s.kind == "batch":
                    extra = (
                        f", {r.get('submit_calls')} submit call(s) {r.get('submit_sizes')}, "
                        f"{r.get('query_calls')} status call(s), at most {r.get('max_queries_per_interval')} per "
                        f"interval"
                    )
                elif "cpu" in r or "rss_mb" in r:
                    extra = f", {fmt(r.get('cpu', NAN))} s CPU, {fmt(r.get('rss_mb', NAN), 0)} MB"
                print(
                    f"{s.name:>13} N={s.n:>7,} {engine:>11}: {fmt(r['seconds'], 3)} s wall{extra}, {r['status']} "
                    f"(load {loads[-1]:.1f})",
                    flush=True,
                )
                if "stderr" in r:
                    print(r["stderr"], file=sys.stderr)
    return rows, loads, time.time() - started


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark matrix, print the tables and (full mode) write docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: no big local runs (100,000 tasks, chain 10,000, diamond 5,000), luigi at 1,000, once each",
    )
    parser.add_argument("--no-docs", action="store_true", help=f"do not write {DOCS} (full mode writes it)")
    parser.add_argument("--write-docs", action="store_true", help=f"write {DOCS} even with --quick or --only")
    parser.add_argument("--only", action="append", help="only these scenarios or kinds (local, startup, batch)")
    parser.add_argument("--no-luigi", action="store_true", help="measure b2core only")
    parser.add_argument("--log-level", default="WARNING", help="luigi log level in the local runs")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds before a run is killed")
    parser.add_argument(
        "--tmp-dir", default=default_tmp_dir(), help="where the workflows write (default: /dev/shm if writable)"
    )
    parser.add_argument(
        "--results",
        default=os.path.join(tempfile.gettempdir(), "b2core-benchmark-results.json"),
        help="where every result is saved as soon as it is measured (default: %(default)s)",
    )
    parser.add_argument("--from-results", help="make the tables (and page) from a saved results file, measure nothing")
    parser.add_argument("--command", help=argparse.SUPPRESS)  # with --from-results: the command that measured
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return 0

    sys.path.insert(0, str(HERE))
    from workloads import task_count

    rows, loads, seconds = run_matrix(args)
    local = [s for s in rows if s.kind == "local"]
    texts = {
        "local_table": local_table(local, task_count),
        "startup_table": startup_table([s for s in rows if s.kind == "startup"]),
        "batch_table": batch_table([s for s in rows if s.kind == "batch"]),
        "batch_failures": batch_failures([s for s in rows if s.kind == "batch"]),
        "targets": targets(rows, task_count),
    }
    for title, key in (("Targets", "targets"), ("Local", "local_table"), ("Job start-up", "startup_table")):
        print(f"\n{title}\n{texts[key]}")
    print(f"\nBatch\n{texts['batch_table']}")
    if not args.from_results:
        loads.append(os.getloadavg()[0])
    print(f"\n1-minute load average: min {min(loads):.1f}, max {max(loads):.1f}")

    if args.write_docs or not (args.quick or args.only or args.no_docs or args.no_luigi):
        given = argv if argv is not None else sys.argv[1:]
        command = " ".join([".venv/bin/python benchmarks/run.py", *given]) if not args.from_results else args.command
        if command is None:
            command = ".venv/bin/python benchmarks/run.py"
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        kept = marked_sections(DOCS.read_text()) if DOCS.exists() else ""  # the other benchmarks' figures
        DOCS.write_text(
            DOC_TEMPLATE.format(
                command=command.strip(),
                minutes=seconds / 60,
                machine=machine(),
                load_min=min(loads),
                load_median=statistics.median(loads),
                load_max=max(loads),
                nproc=os.cpu_count(),
                tmp_dir=args.tmp_dir or tempfile.gettempdir(),
                poll=POLL_INTERVAL,
                profile=PROFILE,
                **texts,
            )
            + ("\n" + kept + "\n" if kept else "")
        )
        print(f"wrote {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
