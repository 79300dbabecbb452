"""The `b2core` command: inspect plugins and job records, and run or inspect a task without a steering script.

    b2core plugins                                  installed backends, versions, detection answers, hooks
    b2core status [--log-dir DIR]                   job records of a workflow (nothing is run)
    b2core run module:Task [--param value ...] [--batch] [--workers N]
    b2core show-output module:Task [--param value ...]
    b2core remove-output module:Task [--param value ...] [--only] [-y]
    b2core scheduler [--port 8082] [--address ADDR] [--state-path FILE]   central scheduler, like luigid

`module` is an importable module name (the current folder is on the path) or a path to a .py file.
Relative result, log and task-file folders start at the module's folder, as they start at the steering
script's folder for `python script.py`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import itertools
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

EXIT_USAGE = 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `b2core` console script; returns (and exits with) the exit code."""
    args, extra = _parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if args.command not in ("run", "show-output", "remove-output") and extra:
        _parser().error(f"unrecognized arguments: {' '.join(extra)}")
    from b2core.errors import B2CoreError

    try:
        code = args.handler(args, extra)
    except B2CoreError as error:
        print(f"b2core: {error}", file=sys.stderr)
        code = EXIT_USAGE
    if argv is None:
        sys.exit(code)
    return code


def _parser() -> argparse.ArgumentParser:
    """The command line of `b2core`; task parameters are left over for the task's own parser."""
    parser = argparse.ArgumentParser(prog="b2core", description="Inspect and run b2core workflows.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plugins = commands.add_parser("plugins", help="List installed batch backends and hook modules.")
    plugins.set_defaults(handler=_plugins)

    status = commands.add_parser("status", help="Show the job records of a workflow; nothing is run.")
    status.add_argument("--log-dir", default=None, help="The workflow's log folder (default: the log_dir setting).")
    status.set_defaults(handler=_status)

    run = commands.add_parser("run", help="Run a task (and what it requires), like luigi --module.")
    _task_arguments(run)
    run.add_argument("--batch", action="store_true", help="Run tasks on the batch system (setting batch_system).")
    run.add_argument("--workers", type=int, default=None, help="How many tasks run (or jobs are in flight) at once.")
    run.add_argument("--dry-run", action="store_true", help="Show what would run; exit 1 if anything would.")
    run.add_argument("--path", default=None, help=argparse.SUPPRESS)  # import root, for jobs
    run.add_argument("--batch-runner", action="store_true", help=argparse.SUPPRESS)
    run.add_argument("--task-id", default="", help=argparse.SUPPRESS)
    run.add_argument("--task-spec", default="", help=argparse.SUPPRESS)
    run.set_defaults(handler=_run)

    show = commands.add_parser("show-output", help="List the outputs of a task and what it requires.")
    _task_arguments(show)
    show.set_defaults(handler=_show_output)

    remove = commands.add_parser("remove-output", help="Remove a task's outputs (and of tasks depending on it).")
    _task_arguments(remove)
    remove.add_argument("--only", action="store_true", help="Remove only this task class's outputs.")
    remove.add_argument("-y", "--yes", action="store_true", help="Do not ask before removing.")
    remove.set_defaults(handler=_remove_output)

    central = commands.add_parser(
        "scheduler", help="Run a central scheduler for several steering processes (luigi's RPC and web view)."
    )
    central.add_argument("--port", type=int, default=8082, help="Port to listen on (default 8082, as luigid).")
    central.add_argument("--address", default=None, help="Interface to listen on (default: all, as luigid).")
    central.add_argument(
        "--state-path", default=None, help="State file kept across restarts (default: luigi's [scheduler] state_path)."
    )
    central.set_defaults(handler=_scheduler)
    return parser


def _task_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", metavar="module:Task", help="The task class, e.g. analysis:Reconstruction.")
    parser.epilog = "Task parameters follow as --name value (as on luigi's command line)."


# --- plugins -----------------------------------------------------------------------------------------


def _plugins(args: argparse.Namespace, extra: list[str]) -> int:
    """Print every backend and hook module with its distribution, version and detection answer."""
    from b2core import plugins

    try:
        answers = {d.name: d for d in plugins.detections()}
        hook_modules = plugins.all_hook_modules()
        problem = ""
    except Exception as error:  # a broken hook module must not hide the list of backends
        from b2core.errors import B2CoreError

        answers, hook_modules = {}, []
        problem = str(error) if isinstance(error, B2CoreError) else f"{type(error).__name__}: {error}"

    print(f"Batch backends (entry point group {plugins.BACKEND_GROUP}):")
    rows = []
    for name, entry_point in sorted(plugins.installed_backends().items()):
        dist, version = plugins.distribution_of(entry_point)
        answer = answers.get(name)
        if answer is None:
            detected = "no detection hook (used only when named)" if not problem else "detection unavailable"
        else:
            word = "available" if answer.available else "not available"
            detected = f"{word} (priority {answer.priority}{': ' + answer.detail if answer.detail else ''})"
        rows.append((name, f"{dist} {version}", entry_point.value, detected))
    _print_table(rows, indent="  ")

    print(f"\nHook modules (entry point group {plugins.HOOK_GROUP}):")
    from importlib import metadata

    hook_rows = []
    for entry_point in sorted(metadata.entry_points(group=plugins.HOOK_GROUP), key=lambda ep: ep.name):
        dist, version = plugins.distribution_of(entry_point)
        loaded = any(name == entry_point.name for name, _ in hook_modules)
        skipped = os.environ.get(plugins.AUTOLOAD_ENV) and not plugins.is_first_party(entry_point)
        state = "loaded" if loaded else f"skipped ({plugins.AUTOLOAD_ENV} is set)" if skipped else ""
        hook_rows.append((entry_point.name, f"{dist} {version}", entry_point.value, state))
    _print_table(hook_rows or [("(none)",)], indent="  ")
    if problem:
        print(f"\nb2core: {problem}", file=sys.stderr)
        return 1

    print()
    try:
        plugins.resolve_auto.cache_clear()
        print(f"batch_system = 'auto' would use: {plugins.resolve_auto()}")
    except Exception as error:
        print(f"batch_system = 'auto' would fail: {error}")
    return 0


# --- status ------------------------------------------------------------------------------------------


def _status(args: argparse.Namespace, extra: list[str]) -> int:
    """Print the newest job record of every task in a workflow's job store, and counts per state."""
    from b2core.batch.jobstore import JobStore, store_path

    if args.log_dir is not None:
        log_dir = Path(args.log_dir)
    else:
        from b2core.settings import get_setting

        log_dir = Path(os.path.expanduser(os.path.expandvars(get_setting("log_dir"))))
    path = store_path(str(log_dir.resolve()))
    if not path.exists():
        print(f"No job records in {path} (nothing was submitted from this log folder).")
        return 0
    store = JobStore(path, readonly=True)
    try:
        rows = store.status_rows()
    finally:
        store.close()
    print(f"Job records in {path}:")
    _print_table([("TASK", "STATE", "BACKEND", "JOB ID", "ATTEMPT", "DETAIL"), *rows])
    counts = Counter(row[1] for row in rows)
    print("\n" + ", ".join(f"{state}: {count}" for state, count in sorted(counts.items())) + f"; total: {len(rows)}")
    return 0


# --- scheduler -----------------------------------------------------------------------------------------


def _scheduler(args: argparse.Namespace, extra: list[str]) -> int:
    """Serve the linear scheduler over luigi's RPC protocol until stopped."""
    import logging

    from b2core.scheduling.server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)  # one line per RPC call otherwise
    serve(port=args.port, address=args.address, state_path=args.state_path)
    return 0


# --- run, show-output, remove-output --------------------------------------------------------------------


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    """Build the task and hand it to process(), exactly as a steering script would."""
    from b2core.cli.process import process

    module, task_class = _load(args.task, args.path)
    if args.batch_runner:
        # Inside a job: the task comes from its spec file; no parameters are needed on the command line.
        process([], argv=["--batch-runner", "--task-id", args.task_id, "--task-spec", args.task_spec])
        return 0
    task = _build_task(task_class, extra)
    module_part, _, class_name = args.task.rpartition(":")
    job_spec = f"{Path(module_part).resolve()}:{class_name}" if module_part.endswith(".py") else args.task
    _jobs_reenter_through_this_command(job_spec, _import_root(module, args.path))
    flags = ["--batch"] if args.batch else []
    flags += ["--dry-run"] if args.dry_run else []
    flags += ["--workers", str(args.workers)] if args.workers is not None else []
    process(task, argv=flags)
    return 0


def _show_output(args: argparse.Namespace, extra: list[str]) -> int:
    """List the outputs of the task's graph."""
    from b2core.cli.process import show_all_outputs

    _, task_class = _load(args.task, None)
    show_all_outputs([_build_task(task_class, extra)])
    return 0


def _remove_output(args: argparse.Namespace, extra: list[str]) -> int:
    """Remove the outputs of the task's class (and, without --only, of what depends on it)."""
    from b2core.cli.process import remove_outputs

    _, task_class = _load(args.task, None)
    task = _build_task(task_class, extra)
    family = [task.get_task_family()]
    remove_outputs(
        [task],
        remove=[] if args.only else family,
        remove_only=family if args.only else [],
        keep=[],
        auto_confirm=args.yes,
        delete_without_remove_output=True,
    )
    return 0


def _load(spec: str, import_root: str | None) -> tuple[ModuleType, type]:
    """Import `module:Task` (a module name or a .py path) and return the module and the task class."""
    from b2core.errors import B2CoreError

    module_name, sep, class_name = spec.rpartition(":")
    if not sep or not module_name or not class_name:
        raise B2CoreError(f"Expected module:Task, got {spec!r}")
    for folder in (import_root, os.getcwd()):
        if folder and folder not in sys.path:
            sys.path.insert(0, folder)
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        loader_spec = importlib.util.spec_from_file_location(path.stem, path)
        if loader_spec is None or loader_spec.loader is None:
            raise B2CoreError(f"Cannot import {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[path.stem] = module
        loader_spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise B2CoreError(f"Cannot import module {module_name!r}: {error}") from error
    _treat_as_script(module)
    task_class = getattr(module, class_name, None)
    import luigi

    if not (isinstance(task_class, type) and issubclass(task_class, luigi.Task)):
        raise B2CoreError(f"{module_name} has no task class {class_name!r}")
    return module, task_class


def _treat_as_script(module: ModuleType) -> None:
    """Relative folders start at the module's folder, as they start at a steering script's folder."""
    main = sys.modules.get("__main__")
    if main is not None and getattr(module, "__file__", None):
        main.__file__ = os.path.abspath(module.__file__)


def _import_root(module: ModuleType, given: str | None) -> str:
    """The folder a job must have on its path to import the module again."""
    if given:
        return given
    path = Path(os.path.abspath(module.__file__ or "."))
    depth = module.__name__.count(".") + (1 if path.name != "__init__.py" else 2)
    return str(path.parents[depth - 1])


def _jobs_reenter_through_this_command(spec: str, import_root: str) -> None:
    """Jobs run `python -m b2core.cli.main run module:Task --batch-runner ...` instead of a script."""
    from b2core.settings import get_setting, set_setting

    executable = get_setting("executable") or [sys.executable]
    set_setting("executable", [*executable, "-m", "b2core.cli.main", "run", "--path", import_root, spec])
    set_setting("add_filename_to_cmd", False)


def _build_task(task_class: type, extra: list[str]) -> Any:
    """Instantiate the task from `--name value` pairs (luigi's string parsing for each parameter)."""
    from b2core.errors import B2CoreError

    params = dict(task_class.get_params())
    values: dict[str, str] = {}
    position = 0
    while position < len(extra):
        word = extra[position]
        if not word.startswith("--"):
            raise B2CoreError(f"Unexpected argument {word!r}; task parameters are given as --name value")
        name, _, inline = word[2:].partition("=")
        name = name.replace("-", "_")
        if name not in params:
            known = ", ".join(f"--{p.replace('_', '-')}" for p in params) or "none"
            raise B2CoreError(f"{task_class.__name__} has no parameter {name!r}; its parameters: {known}")
        if inline:
            values[name] = inline
            position += 1
        elif position + 1 < len(extra) and not extra[position + 1].startswith("--"):
            values[name] = extra[position + 1]
            position += 2
        elif _is_bool(params[name]):
            values[name] = "true"
            position += 1
        else:
            raise B2CoreError(f"Parameter --{name.replace('_', '-')} needs a value")
    try:
        return task_class.from_str_params(values)
    except Exception as error:
        raise B2CoreError(f"Cannot build {task_class.__name__} from {values}: {error}") from error


def _is_bool(parameter: Any) -> bool:
    import luigi

    return isinstance(parameter, luigi.BoolParameter)


def _print_table(rows: Sequence[Sequence[str]], indent: str = "") -> None:
    """Print rows as left-aligned columns."""
    columns = list(itertools.zip_longest(*rows, fillvalue=""))
    line = indent + "  ".join(f"{{:<{max(map(len, column))}}}" for column in columns)
    width = len(columns)
    padded = (row if len(row) == width else (*row, *[""] * (width - len(row))) for row in rows)
    sys.stdout.write("".join(line.format(*row).rstrip() + "\n" for row in padded))


if __name__ == "__main__":
    main()
