"""process(): the one call at the bottom of a steering script; flags decide what it does."""

from __future__ import annotations

import contextlib
import sys
from collections import defaultdict
from typing import Any

import luigi
from b2core.cli import arguments
from b2core.cli.graph import find_cycle, walk
from b2core.errors import B2CoreError
from b2core.execution import mark_in_job, run_in_job
from b2core.output_owners import checking_output_owners
from b2core.processes import Terminated, sigterm_as_interrupt
from b2core.settings import fixed_settings
from b2core.settings_models import validate_all_sources
from b2core.task import flatten, flatten_targets
from b2core.workflow import with_branch_flags

_called = False


def process(
    task_like_elements: Any,
    show_output: bool = False,
    dry_run: bool = False,
    test: bool = False,
    batch: bool = False,
    remove: list[str] | str | None = None,
    remove_only: list[str] | str | None = None,
    auto_confirm: bool = False,
    keep_tasks: list[str] | str | None = None,
    ignore_additional_command_line_args: bool = False,
    argv: list[str] | None = None,
    **kwargs: Any,
) -> bool:
    """Run the workflow of these tasks; exits non-zero when a task failed or --dry-run finds work."""
    global _called
    if _called and argv is None:
        raise RuntimeError("You are not allowed to call process twice in your code!")
    _called = True
    roots = list(task_like_elements) if isinstance(task_like_elements, list | tuple) else [task_like_elements]
    args = arguments.parse(argv if argv is not None else sys.argv[1:], ignore_additional_command_line_args)
    try:
        return _dispatch(
            roots,
            args,
            show_output,
            dry_run,
            test,
            batch,
            remove,
            remove_only,
            auto_confirm,
            keep_tasks,
            kwargs,
        )
    except B2CoreError as error:
        print(f"b2core: {error}", file=sys.stderr)
        sys.exit(2)
    except Terminated:
        print("b2core: terminated (SIGTERM)", file=sys.stderr)
        sys.exit(143)
    except KeyboardInterrupt:
        print("b2core: interrupted", file=sys.stderr)
        sys.exit(130)


def _names(value: list[str] | str | None, flag: str) -> list[str]:
    if isinstance(value, str):
        value = value.split(",")
    return [n for n in (value or []) + flag.split(",") if n]


def _dispatch(roots, args, show_output, dry_run, test, batch, remove, remove_only, auto_confirm, keep, kwargs) -> bool:
    if args.batch_runner:
        if not args.task_id:
            raise B2CoreError("--batch-runner needs --task-id")
        run_in_job(roots, args.task_id, args.task_spec or None)
        return True
    roots = with_branch_flags(roots, args.branch, args.branches)
    if show_output or args.show_output:
        show_all_outputs(roots)
        return True
    central = args.scheduler_host is not None or args.scheduler_port
    if (dry_run or args.dry_run) and central:
        raise B2CoreError("--dry-run cannot be combined with a central scheduler")
    if dry_run or args.dry_run:
        sys.exit(0 if print_dry_run(roots) == 0 else 1)
    removal = _names(remove, args.remove), _names(remove_only, args.remove_only)
    if removal[0] or removal[1]:
        remove_outputs(roots, *removal, keep=_names(keep, args.keep), auto_confirm=auto_confirm or args.yes)
        return True
    checked_backends = check_at_start()
    if args.workers is not None:
        kwargs["workers"] = args.workers
    if test or args.test:
        if central:
            raise B2CoreError("--test cannot be combined with a central scheduler")
        mark_in_job()
        kwargs.setdefault("log_level", "DEBUG")
        kwargs["workers"] = 1  # luigi forks a process per task with more than one worker
    if central:
        kwargs.update(scheduler_host=args.scheduler_host or "localhost", local_scheduler=False)
        if args.scheduler_port:
            kwargs["scheduler_port"] = args.scheduler_port
    else:
        kwargs.setdefault("local_scheduler", True)
    from b2core.paths import map_folder
    from b2core.settings import get_setting
    from b2core.workflow_lock import workflow_lock

    # with a central scheduler several steering processes share the job store: its grants keep tasks single
    shared = bool(central) or kwargs.get("local_scheduler") is False
    log_dir = map_folder(get_setting("log_dir"))
    batch_mode = (batch or args.batch) and not (test or args.test)
    with sigterm_as_interrupt(), workflow_lock(log_dir, shared=shared):
        if batch_mode:
            check_job_store(log_dir)
        success = run_luigi(roots, batch_mode=batch_mode, checked_backends=checked_backends, **kwargs)
    if not success:
        sys.exit(1)
    return True


def check_at_start() -> set[str]:
    """Fail once, before scheduling anything, on settings no task can run with; returns the backends
    whose settings were checked, which the worker then does not check again."""
    from b2core.plugins import AUTO, installed_backends, plugin_manager, unknown_backend_message
    from b2core.settings import find_setting_source, get_setting

    plugin_manager()  # registers the plugins' settings models, so their settings are checked too
    validate_all_sources()
    name = get_setting("batch_system")
    if name != AUTO and name not in installed_backends():
        raise B2CoreError(f"{unknown_backend_message(name)} (from {find_setting_source('batch_system')})")
    checked: set[str] = set()
    if name != AUTO:
        from b2core.worker import check_backend_settings

        check_backend_settings(name, checked)
    return checked


def check_job_store(log_dir: str) -> None:
    """A damaged or unwritable job store fails the run at start, naming the file, not task by task."""
    from b2core.batch.jobstore import JobStore, store_path

    JobStore(store_path(log_dir)).close()


def run_luigi(roots: list[Any], batch_mode: bool, checked_backends: set[str] | None = None, **kwargs: Any) -> bool:
    """luigi.build with b2core's worker and progress display; True when every task succeeded."""
    from b2core.plugins import plugin_manager
    from b2core.progress import ProgressDisplay, ProgressTracker, failure_summary
    from b2core.settings import get_setting
    from b2core.worker import WorkerSchedulerFactory

    show = get_setting("show_progress")
    live = sys.stderr.isatty() if show is None else show
    kwargs.setdefault("log_level", "WARNING" if live else "INFO")
    tracker = ProgressTracker()
    manager = plugin_manager()
    manager.register(tracker, name="b2core-progress")
    factory = WorkerSchedulerFactory(batch_mode=batch_mode, tracker=tracker, checked_backends=checked_backends)
    try:
        display = ProgressDisplay(tracker, live=live) if show is not False else contextlib.nullcontext()
        with display, checking_output_owners():
            result = luigi.build(roots, worker_scheduler_factory=factory, detailed_summary=True, **kwargs)
    finally:
        manager.unregister(tracker)
    summary = failure_summary(tracker)
    if summary:
        print(summary, file=sys.stderr)
    if result.status in (luigi.LuigiStatusCode.SUCCESS, luigi.LuigiStatusCode.SUCCESS_WITH_RETRY):
        return True
    # with a central scheduler, tasks another steering process ran count as "not run" here
    shared = not kwargs.get("local_scheduler", True)
    if shared and result.status == luigi.LuigiStatusCode.NOT_RUN and all(root.complete() for root in roots):
        return True
    cycle = find_cycle(roots)
    if cycle:
        raise B2CoreError(
            f"The tasks depend on each other in a cycle, so none of them can run: {' -> '.join(cycle)}; "
            "break it in one of their requires()"
        )
    return False


def show_all_outputs(roots: list[Any]) -> None:
    """Print every output by name with its paths, each marked "exists" or "missing" (coloured on a
    terminal), so piped output keeps the answer."""
    by_key: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    with fixed_settings():
        for task in walk(roots):
            for key, target in flatten_targets(task.output()):
                where = getattr(target, "url", None) or getattr(target, "path", None) or str(target)  # remote: URL
                by_key[key].append((where, target.exists()))
    marks = {True: "exists ", False: "missing"}
    if sys.stdout.isatty():
        marks = {True: "\033[32mexists \033[0m", False: "\033[31mmissing\033[0m"}
    write = sys.stdout.write  # one write per output name: a terminal flushes every print() of a line
    for key in sorted(by_key):
        write(key + "\n" + "".join(f"\t{marks[exists]}  {path}\n" for path, exists in by_key[key]) + "\n")


def print_dry_run(roots: list[Any]) -> int:
    """Print what would run, calling each task's dry_run(); returns how many tasks would run."""
    by_family: dict[str, list[Any]] = defaultdict(list)
    with fixed_settings():
        for task in walk(roots, prune_complete=True):
            if not isinstance(task, luigi.ExternalTask) or task.run != luigi.ExternalTask.run:
                by_family[task.get_task_family()].append(task)
    total = 0
    lines: list[str] = []  # written in one go up to each dry_run() call, which may print itself
    for family, tasks in by_family.items():
        lines.append(f"{family}\n")
        for task in tasks:
            lines.append(f"\tWould run {task}\n")
            if hasattr(task, "dry_run"):
                lines.append("\tcall: dry_run()\n")
                sys.stdout.write("".join(lines))
                lines.clear()
                task.dry_run()
            total += 1
        lines.append("\n")
    lines.append(f"In total {total}\n" if total else "All tasks are finished!\n")
    sys.stdout.write("".join(lines))
    return total


def remove_outputs(
    roots: list[Any],
    remove: list[str],
    remove_only: list[str],
    keep: list[str],
    auto_confirm: bool,
    delete_without_remove_output: bool = False,
) -> None:
    """Call remove_output() of the named task classes (with --remove, also of every task depending on them).

    As in b2luigi, only tasks that define remove_output() lose anything and the others are named,
    unless delete_without_remove_output (`b2core remove-output`) deletes their declared outputs.
    """
    parents: dict[str, set[str]] = {}
    tasks: dict[str, Any] = {}
    # two tasks sharing a file: refuse before removing anything (hence every output() is asked once here)
    with checking_output_owners(), fixed_settings():
        for task in walk(roots, parents=parents):
            tasks[task.task_id] = task
            flatten(task.output())
    named = set(remove) | set(remove_only)
    chosen = {tid for tid, t in tasks.items() if t.get_task_family() in named}
    found = {tasks[tid].get_task_family() for tid in chosen}
    if remove:
        stack = [tid for tid in chosen if tasks[tid].get_task_family() in remove]
        while stack:
            for parent in parents.get(stack.pop(), ()):
                if parent not in chosen:
                    chosen.add(parent)
                    stack.append(parent)
    by_family: dict[str, list[Any]] = defaultdict(list)
    for tid in sorted(chosen):
        by_family[tasks[tid].get_task_family()].append(tasks[tid])
    if keep:
        for family in keep:
            if by_family.pop(family, None) is not None:
                print(f"Keeping {family} outputs.")
        print()
    if not by_family:
        print("Nothing to remove.")
        return
    if not auto_confirm:
        if named - found:
            print("The following tasks were not found in the graph and can't be removed:")
            for family in sorted(named - found):
                print(f"\t- {family}")
            print()
        print("The following task outputs will be removed:")
        for family in sorted(by_family):
            print(f"\t- {family}")
        print()
        if input("Are you sure you want to remove these outputs? [y/N]: ").strip().lower() not in ("y", "yes"):
            print("No tasks were removed.")
            return
    removed = 0
    lines: list[str] = []  # written in one go up to each removal call, which may print itself
    for family in sorted(by_family):
        lines.append(f"Class: {family}\n")
        for task in by_family[family]:
            lines.append(f"\tRemoving output for {task}\n")
            name = "remove_output" if hasattr(task, "remove_output") else "_remove_output"
            if name == "remove_output" or delete_without_remove_output:
                lines.append(f"\tcall: {name}()\n")
                sys.stdout.write("".join(lines))
                lines.clear()
                getattr(task, name)()
                removed += 1
            else:
                lines.append(f"\tNo remove_output() implemented for {family}.\n")
            lines.append("\n")
    lines.append(f"Removed outputs for {removed} tasks.\n" if removed else "No outputs were removed.\n")
    sys.stdout.write("".join(lines))
