"""Scheduling benchmarks: b2core's linear scheduler/worker against luigi's own, on trivial tasks.

Usage::

    .venv/bin/python benchmarks/run.py [--quick] [--write-docs] [--task-api luigi|b2core] [--only SCENARIO]

Every measurement runs in a fresh child process (so peak memory is that run's own, read with
os.wait4's rusage of the child) and times only the luigi.build call. --quick skips the 100,000-task
scenarios and runs each measurement once.
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

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs" / "benchmarks.md"


@dataclass
class Scenario:
    """One row of the table: a workflow shape, its size parameter and how often to measure it."""

    name: str
    n: int
    engines: tuple[str, ...] = ("b2core", "luigi")
    repeat: int = 3
    luigi_repeat: int = 3
    big: bool = False  # skipped by --quick
    results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def scenarios() -> list[Scenario]:
    """The benchmark matrix (kept so that a full run stays around ten minutes on 2 cores)."""
    return [
        Scenario("fan-in", 1_000),
        Scenario("fan-in", 3_000, luigi_repeat=1),
        Scenario("fan-in", 10_000, engines=("b2core",)),
        Scenario("fan-in", 100_000, engines=("b2core",), repeat=1, big=True),
        Scenario("chain", 1_000),
        Scenario("chain", 10_000, engines=("b2core",)),
        Scenario("diamond", 2_000, luigi_repeat=1),
        Scenario("shared-roots", 1_000, luigi_repeat=1),
        Scenario("rerun", 100_000, repeat=1, luigi_repeat=1, big=True),
    ]


# --------------------------------------------------------------------------- child side


def child(spec: dict[str, Any]) -> dict[str, Any]:
    """Build one workflow in this (fresh) process and report how long luigi.build took."""
    sys.path.insert(0, str(HERE))
    import luigi
    from workloads import make_workload, prepare_complete, roots

    out_dir = tempfile.mkdtemp(prefix=f"b2bench-{spec['scenario']}-", dir=spec.get("tmp_dir"))
    try:
        if spec["api"] == "b2core":
            os.chdir(out_dir)  # b2core writes logs/task files relative to the working directory
        workload = make_workload(spec["api"], out_dir)
        if spec["scenario"] == "rerun":
            prepare_complete(spec["scenario"], spec["n"], workload)
        tasks = roots(spec["scenario"], spec["n"], workload)
        factory = None
        if spec["engine"] == "b2core":
            from b2core.scheduling import WorkerSchedulerFactory

            factory = WorkerSchedulerFactory()
        start, cpu_start = time.perf_counter(), time.process_time()
        result = luigi.build(
            tasks,
            worker_scheduler_factory=factory,
            local_scheduler=True,
            workers=1,
            detailed_summary=True,
            log_level=spec["log_level"],
        )
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        return {"seconds": seconds, "cpu": cpu, "status": result.status.name, "ok": bool(result.scheduling_succeeded)}
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


# --------------------------------------------------------------------------- parent side


def default_tmp_dir() -> str | None:
    """A RAM-backed folder when there is one, so that disk latency does not drown scheduling costs."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


def measure(scenario: Scenario, engine: str, options: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one child process; return its timing, status and peak RSS (MB)."""
    spec = {"scenario": scenario.name, "n": scenario.n, "engine": engine, **options}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)], stdout=out, stderr=err)
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
            failed = {"seconds": float("nan"), "status": f"ERROR rc={proc.returncode}", "ok": False}
            return {**failed, "stderr": tail, "rss_mb": 0.0}
        data = json.loads(lines[-1])
    data["rss_mb"] = rusage.ru_maxrss / 1024.0  # Linux reports KiB
    return data


def median(values: list[float]) -> float:
    """Median that tolerates an empty list."""
    return statistics.median(values) if values else float("nan")


def fmt(x: float, digits: int = 2) -> str:
    """Number for the table, '-' when not measured."""
    return "-" if x != x else f"{x:.{digits}f}"  # NaN check


def summarize(s: Scenario, engine: str) -> tuple[float, float, float, str]:
    """Median wall seconds, median CPU seconds, max peak RSS and the status(es) of an engine's runs."""
    runs = [r for r in s.results.get(engine, []) if r["seconds"] == r["seconds"]]
    secs = median([r["seconds"] for r in runs])
    cpu = median([r.get("cpu", float("nan")) for r in runs])
    rss = max((r["rss_mb"] for r in s.results.get(engine, [])), default=float("nan"))
    statuses = sorted({r["status"] for r in s.results.get(engine, [])})
    return secs, cpu, rss, "/".join(statuses) if statuses else "-"


def table(rows: list[Scenario], task_count: Any) -> str:
    """Markdown table of all measured scenarios."""
    lines = [
        "| scenario | N | tasks | b2core s | b2core CPU s | luigi s | luigi CPU s | luigi / b2core "
        "| b2core peak RSS MB | luigi peak RSS MB | runs b2core/luigi | status |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for s in rows:
        b_s, b_cpu, b_rss, b_status = summarize(s, "b2core")
        l_s, l_cpu, l_rss, l_status = summarize(s, "luigi")
        ratio = l_s / b_s if b_s == b_s and l_s == l_s and b_s > 0 else float("nan")
        runs = f"{len(s.results.get('b2core', []))}/{len(s.results.get('luigi', []))}"
        status = b_status if l_status in ("-", b_status) else f"{b_status} vs {l_status}"
        lines.append(
            f"| {s.name} | {s.n:,} | {task_count(s.name, s.n):,} | {fmt(b_s)} | {fmt(b_cpu)} | {fmt(l_s)} | "
            f"{fmt(l_cpu)} | {fmt(ratio, 1)} | {fmt(b_rss, 0)} | {fmt(l_rss, 0)} | {runs} | {status} |"
        )
    return "\n".join(lines)


def scaling_note(rows: list[Scenario]) -> str:
    """time(100k)/time(10k) for the fan-in, the linearity target."""
    by_n = {s.n: summarize(s, "b2core")[0] for s in rows if s.name == "fan-in"}
    if 100_000 in by_n and 10_000 in by_n and by_n[10_000] > 0:
        return f"fan-in time(100,000) / time(10,000) = {by_n[100_000] / by_n[10_000]:.1f} (target <= 12)."
    return "fan-in 100,000 not measured (--quick)"


def machine() -> str:
    """Machine description for the docs: cores, memory, CPU, Python and luigi versions."""
    import luigi

    mem = "?"
    cpu = platform.processor() or "?"
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except (OSError, StopIteration, ValueError):
        pass
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or str(os.cpu_count())
    return (
        f"- nproc: {nproc}\n- memory: {mem}\n- CPU: {cpu}\n- OS: {platform.platform()}\n"
        f"- Python {platform.python_version()}, luigi {luigi.__version__}\n"
        f"- date: {datetime.date.today().isoformat()}"
    )


DOC_TEMPLATE = """# Scheduling benchmarks

Generated by `.venv/bin/python benchmarks/run.py {args}` (re-run it to refresh this page).

luigi's local scheduler sorts and walks every pending task on each `get_work` call and prunes the
whole graph on every call, so a run of N tasks costs O(N^2). `b2core.scheduling` replaces it with
`LinearScheduler` (incremental dependency counters, a priority heap of ready tasks, counters for
`count_pending`, timers for retries) and `LinearWorker` (luigi's worker, minus the repeated walk
of shared sub-graphs when several root tasks are scheduled). Both are used through
`luigi.build(tasks, worker_scheduler_factory=b2core.scheduling.WorkerSchedulerFactory(), local_scheduler=True)`.

## Machine

{machine}

## Results

Task API: `{api}`; one worker process (`workers=1`, tasks run in-process); luigi log level
`{log_level}` for both engines; task outputs in `{tmp_dir}` (RAM-backed when available, so that
the latency of a shared virtual disk does not drown the scheduling costs). Times are the median
wall-clock seconds of the `luigi.build` call alone (interpreter start and imports excluded), each
run in a fresh process; "CPU s" is the process CPU time of the same call, which is less sensitive
to other load on the machine; peak RSS is the child's `ru_maxrss` (whole process, including the
task objects luigi caches and, for b2core, the ~10 MB of the `b2core` package import). "luigi" is
`luigi.build(..., local_scheduler=True)` with luigi's own scheduler and worker. 1-minute load
average at the start / end of the run: {load}.

{table}

{scaling}

## Scenarios

- **fan-in N**: N trivial leaf tasks (each writes one small file) and one sum task that requires
  all of them and reads every input.
- **chain N**: N tasks, each requiring the previous one.
- **diamond N**: one top task requiring N middle tasks; middle task i requires leaves i and
  i+1 (mod N), so every leaf is shared by two middles (2N+1 tasks).
- **shared-roots N**: N/5 root tasks passed together to `luigi.build`, all requiring the same
  incomplete chain of N tasks. luigi's worker walks the chain (and calls `complete()` on every
  link) once per root; `LinearWorker` walks it once.
- **rerun N**: the fan-in workflow with every output already present, built with all N+1 tasks as
  roots: nothing runs, every task is checked with `complete()` and reported DONE. (With the sum
  task alone as root, luigi stops after one `complete()` call and there is nothing to measure.)

## Targets

fan-in of 10,000 under 10 s; 100,000 under 100 s with peak RSS under 1 GB and
time(100k)/time(10k) <= 12; chain and diamond linear; re-run of a finished 100,000-task workflow
under 10 s.
"""


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark matrix and print (and optionally write) the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the 100,000-task scenarios, one run each")
    parser.add_argument("--write-docs", action="store_true", help=f"write the table to {DOCS}")
    parser.add_argument("--task-api", choices=("luigi", "b2core"), default="luigi", help="task classes to build")
    parser.add_argument("--only", action="append", help="run only these scenarios (repeatable)")
    parser.add_argument("--no-luigi", action="store_true", help="measure b2core only")
    parser.add_argument("--log-level", default="WARNING", help="luigi log level in the runs")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a run is killed")
    parser.add_argument(
        "--tmp-dir", default=default_tmp_dir(), help="where the task outputs go (default: /dev/shm if writable)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return 0

    api = args.task_api
    if api == "b2core":
        try:
            import b2core  # noqa: F401
            from b2core import Task  # noqa: F401
        except ImportError as exc:
            print(f"b2core's Task API is not importable ({exc}); using plain luigi tasks", file=sys.stderr)
            api = "luigi"

    sys.path.insert(0, str(HERE))
    from workloads import task_count

    load_start = os.getloadavg()[0]
    rows = [s for s in scenarios() if not (args.quick and s.big) and (not args.only or s.name in args.only)]
    for s in rows:
        for engine in s.engines:
            if engine == "luigi" and args.no_luigi:
                continue
            n_runs = 1 if args.quick else (s.repeat if engine == "b2core" else s.luigi_repeat)
            for _ in range(n_runs):
                options = {"api": api, "log_level": args.log_level, "tmp_dir": args.tmp_dir}
                r = measure(s, engine, options, args.timeout)
                s.results.setdefault(engine, []).append(r)
                print(
                    f"{s.name:>13} N={s.n:>7,} {engine:>6}: {fmt(r['seconds'])} s wall, "
                    f"{fmt(r.get('cpu', float('nan')))} s CPU, {r['rss_mb']:.0f} MB, {r['status']}",
                    flush=True,
                )
                if "stderr" in r:
                    print(r["stderr"], file=sys.stderr)

    text = table(rows, task_count)
    scaling = scaling_note(rows)
    print()
    print(text)
    print()
    print(scaling)
    if args.write_docs:
        shown = " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
        DOCS.parent.mkdir(parents=True, exist_ok=True)
        DOCS.write_text(
            DOC_TEMPLATE.format(
                args=shown,
                machine=machine(),
                api=api,
                log_level=args.log_level,
                tmp_dir=args.tmp_dir or tempfile.gettempdir(),
                table=text,
                scaling=scaling,
                load=f"{load_start:.1f} / {os.getloadavg()[0]:.1f}",
            )
        )
        print(f"wrote {DOCS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
