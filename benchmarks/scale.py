"""Scale benchmarks (issue 17): per-task cost of local runs (the web view's queries: benchmarks/inspection.py).

Usage::

    .venv/bin/python benchmarks/scale.py --base /path/to/old/checkout   # writes its section of docs/benchmarks.md

Each local measurement runs in a fresh child process (peak RSS from its rusage) for three engines
in the same run: ``b2core`` (this checkout), ``base`` (the b2core checkout given by --base, put
first on the import path) and ``luigi`` (plain luigi.Task and luigi.build, small sizes only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from docs_section import write_section  # noqa: E402
from run import child, default_tmp_dir  # noqa: E402

LOCAL = [  # scenario, N, engines
    ("fan-in", 1_000, ("b2core", "base", "luigi")),
    ("fan-in", 10_000, ("b2core", "base")),
    ("fan-in", 100_000, ("b2core", "base")),
    ("chain", 1_000, ("b2core", "base")),
    ("chain", 10_000, ("b2core", "base")),
    ("diamond", 1_000, ("b2core", "base")),
    ("diamond", 10_000, ("b2core", "base")),
]
BIG = ("fan-in", 1_000_000, ("b2core",))
WHERE_THE_TIME_GOES = [
    "Where the time goes (cProfile with a CPU clock, fan-in of 10,000): before, `add_to_output` took about 40 %"
    " of the CPU time, because luigi's worker asks a leaf for `output()` four times (`complete()` when"
    " scheduling, creating the output folders, `get_output_file_name` in `run()`, `input()` of the sum) and each"
    " call resolves five settings and builds the path again; luigi's worker also re-checked `complete()` of every"
    " dependency before running the sum, and passed every in-process result through a `multiprocessing.Queue`"
    " (pickling, a feeder thread, a pipe). Changed: while a b2core worker runs, a task's `add_to_output` targets"
    " are computed once (`b2core.output_memo`; output paths are fixed for the run, settings changed during a run"
    " apply to tasks not yet asked); dependencies this worker ran successfully are not re-checked (luigi's own"
    " completion cache, fed only by runs, so dependencies found complete while scheduling are still checked at"
    " run time); in-process results go through a deque. luigi's worker loop, events, retries and summary are"
    " unchanged. What remains per task is luigi's Task machinery (instance cache and `get_param_values`,"
    " `to_str_params`, `deps()` called twice), the worker's `_add`/`_add_task`/`_handle_next_task` bookkeeping,"
    " the settings look-ups of the first `output()` call and the task's own file write.",
]


def local_child(spec: dict[str, Any]) -> None:
    """In the child: run one build and print its figures as JSON."""
    spec["engine"] = "luigi" if spec["engine"] == "luigi" else "b2core"
    data = child(spec)
    data["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(data))


def measure_local(scenario: str, n: int, engine: str, base: str | None, timeout: float) -> dict[str, Any]:
    """One build in a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_")}
    if engine == "base":
        env["PYTHONPATH"] = base or ""
    spec = {"scenario": scenario, "n": n, "engine": engine, "log_level": "WARNING", "tmp_dir": default_tmp_dir()}
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps(spec)],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            cwd="/",
        )
    except subprocess.TimeoutExpired:
        return {"seconds": float("nan"), "cpu": float("nan"), "rss_mb": float("nan"), "status": "TIMEOUT"}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        return {"seconds": float("nan"), "cpu": float("nan"), "rss_mb": float("nan"), "status": f"rc={out.returncode}"}
    return json.loads(lines[-1])


def main() -> None:
    """Measure everything once (modest: the machine is shared) and replace this page's section."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--base", default=None, help="Folder holding a `b2core` package of the old version.")
    parser.add_argument("--big", action="store_true", help="Also the 1,000,000-task fan-in (once).")
    parser.add_argument("--quick", action="store_true", help="Small sizes only; writes nothing.")
    args = parser.parse_args()
    if args.child:
        local_child(json.loads(args.child))
        return
    rows = []
    plan = [row for row in LOCAL if not args.quick or row[1] <= 1_000] + ([BIG] if args.big else [])
    for scenario, n, engines in plan:
        results = {}
        for engine in engines:
            if engine == "base" and not args.base:
                continue
            results[engine] = measure_local(scenario, n, engine, args.base, timeout=1800)
            print(scenario, n, engine, results[engine], flush=True)
        rows.append((scenario, n, results))
    if not args.quick:
        write_docs(rows)


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"


def write_docs(rows: list[Any]) -> None:
    """Replace the text between the scale markers of docs/benchmarks.md."""
    lines = [
        "## Scale (issue 17)",
        "",
        f"Generated by `.venv/bin/python benchmarks/scale.py --base ... --big` on {time.strftime('%Y-%m-%d')}, "
        f"one run per cell, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared with other "
        "engineers' test suites: compare the CPU columns). **base** is b2core at the commit before this work "
        "(c0a67a5), measured in the same run.",
        "",
        "| scenario | N | b2core s | b2core CPU s | b2core MB | base s | base CPU s | base MB | base / b2core (CPU) "
        "| luigi CPU s | luigi / b2core (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    nan = float("nan")
    for scenario, n, res in rows:
        b, o, lg = res.get("b2core", {}), res.get("base", {}), res.get("luigi", {})
        bc, oc, lc = b.get("cpu", nan), o.get("cpu", nan), lg.get("cpu", nan)
        lines.append(
            f"| {scenario} | {n:,} | {_fmt(b.get('seconds', nan))} | {_fmt(bc)} | {_fmt(b.get('rss_mb', nan), 0)} "
            f"| {_fmt(o.get('seconds', nan))} | {_fmt(oc)} | {_fmt(o.get('rss_mb', nan), 0)} | {_fmt(oc / bc)} "
            f"| {_fmt(lc)} | {_fmt(lc / bc)} |"
        )
    lines += ["", *WHERE_THE_TIME_GOES]
    write_section("scale", "\n".join(lines))


if __name__ == "__main__":
    main()
