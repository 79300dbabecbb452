"""Scale benchmarks (issue 17): per-task cost of local runs (the web view's queries: benchmarks/inspection.py).

Usage::

    .venv/bin/python benchmarks/scale.py --base /path/to/old/checkout   # writes its section of docs/benchmarks.md

Each local measurement runs in a fresh child process (peak RSS from its rusage) in the same run:
``b2core`` (this checkout), ``base`` (the b2core checkout given by --base, put first on the import
path), ``luigi`` (plain luigi.Task and luigi.build, small sizes only) and, for the fan-in, ``bare``
(luigi's task model run by the least loop that keeps it, ``bare_loop``: what replacing luigi's worker
and scheduler could at most save) and ``floor`` (the same file work with no framework,
``workloads.fan_in_floor``: what issue 17's "near the cost floor" is measured against). Each
measurement is preceded by writing and deleting a file in its output folder, so that no engine pays
this VM's first touch of memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from docs_section import write_section  # noqa: E402
from memory_touch import touch_memory  # noqa: E402
from run import child, default_tmp_dir  # noqa: E402

LOCAL = [  # scenario, N, engines
    ("fan-in", 1_000, ("b2core", "base", "luigi", "bare", "floor")),
    ("fan-in", 10_000, ("b2core", "base", "bare", "floor")),
    ("fan-in", 100_000, ("b2core", "base", "bare", "floor")),
    ("fan-in", 100_000, ("b2core",)),  # a second b2core run: the machine is shared, one run can be unlucky
    ("chain", 1_000, ("b2core", "base")),
    ("chain", 10_000, ("b2core", "base")),
    ("chain", 100_000, ("b2core",)),
    ("diamond", 1_000, ("b2core", "base")),
    ("diamond", 10_000, ("b2core", "base")),
]
BIG = ("fan-in", 1_000_000, ("b2core", "bare", "floor"))
WHERE_THE_TIME_GOES = [
    "Where the time goes, first pass (cProfile with a CPU clock, fan-in of 10,000): `add_to_output` took about 40 %"
    " of the CPU time, because luigi's worker asks a leaf for `output()` four times and each call resolved five"
    " settings and built the path again; luigi's worker also re-checked `complete()` of every dependency before"
    " running the sum, and passed every in-process result through a `multiprocessing.Queue`. Changed then: a"
    " task's `add_to_output` targets are computed once per run (`b2core.output_memo`), dependencies this worker"
    " ran successfully are not re-checked, in-process results go through a deque.",
    "",
    "Second pass (issue 17, session 4; cProfile with a CPU clock at 10,000 and 100,000 tasks, whose per-task"
    " figures agree, so nothing grows faster than the graph; shares scaled to the measured CPU time): a fan-in"
    " task cost about 390 us of CPU on a lightly loaded machine, about 120 us in the scheduling walk and 230 us in"
    " the run. b2core's own part was the first `output()` of each task (about 60 us: five setting look-ups that"
    " each read the cwd and polled the settings watch, the parameter folders, the output-owner walk up to the"
    " root), the output folder (stat, mkdir, stat) and its listing for stale temporaries, the staging rename's"
    " makedirs/isdir checks, luigi normalising every parameter again each time `requires()` is asked (three"
    " times per fan-in leaf), and about 2 KB per task kept after it ran (a per-task settings dict and claimed-path"
    " set, the staging object kept alive by its output index, luigi's forwarded reporter attributes turning each"
    " task's attribute dict into a private 464-byte copy). Changed: the settings that name outputs are looked up"
    " once per run unless a task or its class sets its own (`b2core.output_memo.remembered_setting`); an output"
    " folder is one mkdir, and a folder made now is not listed; the rename runs without checks unless it fails;"
    " a task asked for again with the same keyword arguments comes straight from luigi's instance cache; the"
    " owner walk stops at the first folder already recorded; the forwarded reporter attributes"
    " (`b2core.reporter_attributes`) and the active staging live beside the task, not in its `__dict__`. What it"
    " cost: a settings file edited during a run no longer changes the output paths of tasks not yet asked (every"
    " other setting still follows the file at once), the rule luigi already applies to targets. luigi's worker"
    " loop, events, retries, summary and `luigi.build` are unchanged, and that loop is now the larger part of"
    " what remains per task (`_add`/`_add_task` with `to_str_params` and the scheduler's `add_task` twice, the"
    " task-process object, three events, result handling, `get_work`), next to luigi's instantiation and task id"
    " (about 25 us) and the task's own file write; replacing it by a b2core loop with the same observable"
    " behaviour is what the 15 s target still needs.",
    "",
    "Third pass (issue 17, session 5). The chain does no work that grows faster than the graph: cProfile"
    " counts 1.33 M function calls for 1,000 links and 10.75 M for 10,000 (8.05x; every function's count grows"
    " with the task count, none faster), and measured side by side a chain of 2,000 and of 20,000 took 1.25 s"
    " and 10.1 to 10.7 s of CPU (8.1-8.6x). The 19x of the earlier table was the shared machine (load 7-31):"
    " this table comes from a quiet machine (load 1.5-2); a run at load 20-31 earlier today gave 12.3x for"
    " chain 1,000 -> 10,000 (base 14.0x), and the same chain of 1,000 took 0.39 to 0.67 s of CPU across runs:"
    " under load the time per call grows, not the number of calls. Where a fan-in task's time goes now"
    " (cProfile, CPU clock, fan-in of 5,000): about 1,080 Python function calls per task (base: 1,150), a"
    " third in the scheduling walk (luigi's `_add` with its events, `to_str_params`, the first `complete()`"
    " and so the first `output()`, the scheduler's `add_task`), two thirds in the run loop: the task process"
    " (12 % of all is the task's own `run()` with its output file name and write, 13 % b2core's output folder,"
    " stale-temporary listing and staged rename, 4 % luigi's process around them), luigi's result handling"
    " with the second `add_task` (13 %), creating the task process (7 %) and `get_work` (7 %). No single place"
    " holds more than an eighth. Changed: luigi's run-time check of a task's dependencies is skipped when this"
    " worker ran every one of them successfully (luigi's own completion cache would answer each, but luigi"
    " first asks `requires()` again, which for a fan-in root instantiates every leaf once more); the status"
    " reporter's callbacks reach a running b2core task as one entry instead of ten `setattr` through its"
    " descriptors (`b2core.reporter_attributes.Forwarded`). What it cost: a task whose dependencies all ran in"
    " this worker sees one `requires()` call fewer before it runs; events, summary, retries and `luigi.build`"
    " are luigi's. Together about 5 % fewer calls per task; the 100,000 fan-in took 24.2 and 27.5 s of CPU"
    " against base's 33.4 s in this run, and 23.0 s against 24.7 s in a back-to-back pair just before it (load"
    " 3-5): about 7 to 25 % less, and the 15 s target is not met. Not done: the 15 s target needs the calls"
    " per task cut by about three, that is, a b2core loop in place of luigi's"
    " `Worker.run`/`_handle_next_task`/`TaskProcess` (one registration per task and state change without"
    " `to_str_params`, no process object or reporter for in-process runs) together with a leaner first"
    " `output()`; the 1,000,000-task fan-in (`--big`) was not run: projected from 100,000 it needs about 3.3"
    " GB and, at about 0.5 ms of CPU per task, eight minutes: over both targets.",
    "",
    "Fourth pass (issue 17, session 7; py-spy sampling at 250 Hz and per-phase CPU clocks, fan-in of 20,000, on"
    " a machine about 1.7x slower than session 5's, where the file system calls of one task (mkdir, create"
    " and write, rename) cost about 35 us). Shares of a fan-in task's CPU time: scheduling walk 21 % (`complete()`"
    " and so the first `output()` 7 %, `requires()` with instantiation 4.5 %, registration), run loop 60 %: the"
    " staged run 34 % (the task's own `run()` 21 %, of which its file write is the larger part; output folder"
    " 5 %, staged rename 4 %), luigi's result handling 10 %, creating the task process 7 % (3 % of it asking"
    " the plugins whether the task needs a container), `get_work` 4 %; nothing else above 3 %. The garbage"
    " collector costs nothing measurable (the same run with it disabled takes as long). Changed: a setting no"
    " task sets itself is answered from the previous lookup while the settings files (same inotify snapshot),"
    " the `set_setting` layer and its `B2CORE_` variable are unchanged (20 -> 10 us per lookup outside a"
    " fixed-settings block); plugins name the settings their per-task hooks read (`b2core_run_settings`, the"
    " Apptainer image), which a worker run then reads once like the output settings (the container question"
    " 18 -> 8.5 us per task); the scheduler shares one dict per distinct parameter-visibility and resource"
    " mapping and drops a finished task's running resources, and the worker keeps luigi's `_add_task_history`"
    " as one entry per task (`TaskHistory`): about 8 % less peak memory (the table's fan-in of 100,000). What it"
    " cost: a settings"
    " file edited during a run changes the Apptainer image only from the next run on, as for output paths."
    " Not done: luigi's result handling, task-process object and `get_work` are each under a tenth, and their"
    " micro-costs (`to_str_params`, visibilities, retry policy about 1 us each) show that a lean path for one of"
    " them saves a few per cent; the 15 s and 3 minute targets still need a b2core worker loop that does the"
    " walk, registration and in-process run without luigi's per-task objects, keeping its events, summary and"
    " retries (about 100 us of Python per task next to the file system's work).",
    "",
    "Fifth pass (issue 17, session 8; a quieter machine than session 7's: plain luigi's fan-in of 1,000 took"
    " 2.28 s of CPU against 2.9 s then). Per-phase CPU clocks on a fan-in of 100,000 (23.5 s with the clocks"
    " on): scheduling walk 7.0 s, that is 70 us per task (the first `complete()` 20 us, the registration 17 us,"
    " the rest luigi's walk with its events); run loop 16.1 s, 161 us per task: the staged run 70 us (the"
    " task's own `run()` 44 us, counting the sum's reads of every input), creating the task process 22 us (10 us"
    " of it the backend question), result handling 35 us (the second registration 17 us), `get_work` 16 us."
    " Each piece costs about twice what it costs alone: the backend question takes 5 us in a loop of its own"
    " and 10 us among 100,000 live tasks. Tried and dropped: running an in-process task without luigi's"
    " task-process object, its multiprocessing set-up and the result queue, with the staged run and luigi's"
    " events kept: 4.42-4.55 s against 4.37-4.74 s of CPU for 20,000 tasks (three runs each), no measurable"
    " gain, so luigi's objects stay. Freezing the collector's view of the scheduled graph for the run"
    " (`gc.freeze`): 22.2 and 22.4 s against 22.9 and 21.8 s for 100,000, within the noise. The collector takes"
    " 1.0 s of 22 s at 100,000 (0.8 s in 11 full collections) and 12.3 s of 279 s at 1,000,000 (10.4 s in 22"
    " full collections): 4 to 5 %, linear. Changed: temporary output names come from a per-process generator"
    " seeded by the OS instead of `secrets` (2.4 -> 1.8 us per name). What remains is spread over some 30"
    " steps of 1 to 20 us, none above a sixth of a task's time. The 15 s and 3-minute targets are not met, and"
    " since dropping luigi's task-process layer whole gained nothing measurable, a b2core worker loop alone"
    " is no longer expected to reach them: the per-task work itself (walk, registration twice, staged run)"
    " would have to shrink too.",
    "",
    "Sixth pass (issue 17, session 25). Two columns now measure the gap in the same run: **floor**, the fan-in's"
    " file work with no framework (`workloads.fan_in_floor`: per leaf the existence check, the folder, the leaf's"
    " own write to a temporary name, the rename; then the sum reads every leaf), and **bare loop**, luigi's task"
    " model run by the least loop that keeps it (`benchmarks/bare_loop.py`: the walk with `requires()`,"
    " `complete()` and luigi's events, b2core's staged run with START, PROCESSING_TIME and SUCCESS; no luigi"
    " worker, scheduler, retries or summary). Base, the b2core of the fifth pass, took 27.7 s for the fan-in of"
    " 100,000 against the bare loop's 12.1 s and the floor's 5.2 s: luigi's worker and scheduler cost more than"
    " the task model and the file work together, and the fifth pass's reading that a b2core loop could not reach"
    " the target was wrong (its prototype was measured on another day, not in the same run). Changed: with one"
    " worker in this process and b2core's in-process scheduler (`b2core.process`, or `luigi.build` with b2core's"
    " factory) the worker walks the graph itself, in luigi's order with luigi's events, errors and log lines,"
    " keeps the registrations instead of sending each to the scheduler, and runs the tasks in the order the"
    " scheduler would hand them out, with luigi's events, log lines, `on_success` and completion cache"
    " (`b2core.scheduling.direct_run`). At the first thing it does not do itself (a failure, new dependencies,"
    " an external, disabled or prioritised task or one with resources, a task that runs on a batch system, in"
    " a container or as a branch workflow, a dependency gone at run time) it registers the graph with the"
    " scheduler as luigi would have and luigi's loop goes on, so retries, failure e-mails and batch jobs are"
    " luigi's and b2core's as before; luigi's `task_limit`, `check_complete_on_run`, `cache_task_completion`,"
    " `force_multiprocessing`, `task_process_context`, parallel scheduling, several workers and a central"
    " scheduler keep luigi's loop throughout. A test runs one workflow both ways (all succeed, a failure, new"
    " dependencies, one of them failing, `requires()` or `complete()` raising) and compares events with every"
    " discovered edge, exit code, execution summary and outputs. What it cost: luigi's \"Informed scheduler"
    " that task ... has status ...\" lines appear only once a run hands over, and a running task's status"
    " message or progress reaches no scheduler before that (the in-process scheduler shows them nowhere)."
    " Where the rest goes (fan-in of 100,000, CPU clocks on a quiet machine): b2core 17.2 s against the bare"
    " loop's 11.8 s; the staged runs take the same 9.1-9.3 s in both; the walk 4.8 s against 3.4 s (the"
    " progress tracker and the task history luigi's summary reads, the class checks), the run loop's own work"
    " 2.6 s against about 0.5 s (the question whether a task runs here, 2.4 us, luigi's status reporter put on"
    " the task, 2.6 us, progress and history updates), luigi's execution summary 0.7 s; the garbage collector"
    " makes no difference (the same with it disabled).",
]


def local_child(spec: dict[str, Any]) -> None:
    """In the child: run one build and print its figures as JSON."""
    spec["engine"] = spec["engine"] if spec["engine"] in ("luigi", "floor", "bare") else "b2core"
    data = child(spec)
    data["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(data))


def measure_local(scenario: str, n: int, engine: str, base: str | None, timeout: float) -> dict[str, Any]:
    """One build in a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_")}
    if engine == "base":
        env["PYTHONPATH"] = base or ""
    spec = {"scenario": scenario, "n": n, "engine": engine, "log_level": "WARNING", "tmp_dir": default_tmp_dir()}
    touch_memory(spec["tmp_dir"] or tempfile.gettempdir(), min(4096, max(256, n // 100)))
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
        write_docs(rows, args.base)


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if value != value else f"{value:,.{digits}f}"


def _commit_of(base: str | None) -> str:
    """The short commit of the --base checkout (its b2core package may be a link into a git worktree)."""
    if not base:
        return "not measured"
    folder = os.path.realpath(os.path.join(base, "b2core"))
    out = subprocess.run(["git", "-C", folder, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "unknown commit"


def _verdict(rows: list[Any]) -> str:
    """The 100,000-task fan-in runs against issue 17's target, in words."""
    runs = [res["b2core"] for scenario, n, res in rows if scenario == "fan-in" and n == 100_000 and "b2core" in res]
    if not runs:
        return ""
    figures = "; ".join(f"{r['seconds']:.0f} s wall, {r['cpu']:.0f} s CPU, {r['rss_mb']:.0f} MB" for r in runs)
    fast = all(r["seconds"] < 15 for r in runs)
    small = all(r["rss_mb"] < 400 for r in runs)
    text = (
        f"Fan-in of 100,000 against issue 17's target (under 15 s and under 400 MB): {figures}; "
        f"time {'met' if fast else 'not met'}, memory {'met' if small else 'not met'}."
    )
    floors = [(n, res["floor"]["seconds"]) for scenario, n, res in rows if scenario == "fan-in" and "floor" in res]
    if floors:
        text += (
            " The floor, the same file work with no framework: "
            + ", ".join(f"{f:.2f} s for {n:,}" for n, f in floors)
            + "."
        )
    big = [res["b2core"] for scenario, n, res in rows if scenario == "fan-in" and n == 1_000_000 and "b2core" in res]
    for r in big:
        text += (
            f" Fan-in of 1,000,000 (under 3 minutes and under 3 GB): {r['seconds']:.0f} s wall, {r['cpu']:.0f} s CPU,"
            f" {r['rss_mb']:,.0f} MB; time {'met' if r['seconds'] < 180 else 'not met'},"
            f" memory {'met' if r['rss_mb'] < 3000 else 'not met'}."
        )
    return text


def _linearity(rows: list[Any]) -> str:
    """CPU time ratio of each scenario's run to its run with a tenth of the tasks (issue 17: at most 11)."""
    cpu = {}
    for scenario, n, res in rows:
        cpu.setdefault((scenario, n), res.get("b2core", {}).get("cpu", float("nan")))
    ratios = [
        f"{scenario} {n // 10:,} -> {n:,}: {value / cpu[(scenario, n // 10)]:.1f}"
        for (scenario, n), value in cpu.items()
        if (scenario, n // 10) in cpu
    ]
    return "b2core CPU time for 10x the tasks (issue 17: at most 11): " + "; ".join(ratios) + "." if ratios else ""


def write_docs(rows: list[Any], base: str | None = None) -> None:
    """Replace the text between the scale markers of docs/benchmarks.md."""
    base_commit = _commit_of(base)

    lines = [
        "## Scale (issue 17)",
        "",
        f"Generated by `.venv/bin/python benchmarks/scale.py --base ...` on {time.strftime('%Y-%m-%d')}, "
        f"one run per cell, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared with other "
        "engineers' test suites: compare the CPU columns). **base** is b2core at the commit before this work "
        f"({base_commit}), measured in the same run.",
        "",
        "| scenario | N | b2core s | b2core CPU s | b2core MB | base s | base CPU s | base MB | base / b2core (CPU) "
        "| luigi CPU s | luigi / b2core (CPU) | bare loop s | b2core / bare | floor s | b2core / floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    nan = float("nan")
    for scenario, n, res in rows:
        b, o, lg = res.get("b2core", {}), res.get("base", {}), res.get("luigi", {})
        bc, oc, lc = b.get("cpu", nan), o.get("cpu", nan), lg.get("cpu", nan)
        bs, bare, fs = (
            b.get("seconds", nan),
            res.get("bare", {}).get("seconds", nan),
            res.get("floor", {}).get("seconds", nan),
        )
        lines.append(
            f"| {scenario} | {n:,} | {_fmt(bs)} | {_fmt(bc)} | {_fmt(b.get('rss_mb', nan), 0)} "
            f"| {_fmt(o.get('seconds', nan))} | {_fmt(oc)} | {_fmt(o.get('rss_mb', nan), 0)} | {_fmt(oc / bc)} "
            f"| {_fmt(lc)} | {_fmt(lc / bc)} | {_fmt(bare)} | {_fmt(bs / bare)} | {_fmt(fs)} | {_fmt(bs / fs, 1)} |"
        )
    lines += ["", _verdict(rows), "", _linearity(rows), "", *WHERE_THE_TIME_GOES]
    write_section("scale", "\n".join(lines))


if __name__ == "__main__":
    main()
