"""Running one task's run(): staged outputs, dynamic dependencies, and the entry point inside a job."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import subprocess
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import luigi
import luigi.worker
from b2core.disk_full import output_write_error
from b2core.errors import TaskNotFoundError
from b2core.leftovers import remove_stale_temporaries
from b2core.processes import die_with_parent
from b2core.reporter_attributes import Forwarded, held_by_descriptors
from b2core.settings import get_setting
from b2core.staging import OutputStaging, active_staging, staging_for
from b2core.task import Task
from luigi.task import flatten

logger = logging.getLogger("b2core")
NewDeps = list[tuple[str, str, dict[str, str]]]

_in_job = False


def running_in_job() -> bool:
    """True inside a batch job or --test run, where dispatched tasks run inline."""
    return _in_job


def mark_in_job() -> None:
    """Declare this process a job: dispatch() then runs tasks inline."""
    global _in_job
    _in_job = True


def create_output_dirs(task: Any) -> None:
    """Create the folders of every output, so run() can open its files directly."""
    _create_folders(flatten(task.output()))


def _create_folders(targets: list[Any]) -> set[str]:
    """Create the folders of these outputs, once per folder and kind; returns the ones created now, which
    hold nothing stale."""
    done, created = set(), set()
    for target in targets:
        makedirs = getattr(target, "makedirs", None)
        path = getattr(target, "path", None)
        folder = (type(target), os.path.dirname(os.path.normpath(path))) if isinstance(path, str) else None
        if makedirs is not None and (folder is None or folder not in done):
            if makedirs() is True:
                created.add(os.path.dirname(os.path.abspath(target.path)))
            done.add(folder)
    return created


def run_staged(task: Any, check_complete: Callable[[Any], bool]) -> NewDeps | None:
    """Run task.run() with staged outputs; returns luigi-style new deps if it yielded incomplete ones.

    Outputs are moved into place only when run() finished; on an exception or when run() must wait
    for new dependencies, what it wrote is removed.
    """
    staging = OutputStaging()
    try:
        targets = flatten(task.output())
        remove_stale_temporaries(task, targets, skip_folders=_create_folders(targets))
        with staging_for(task, staging):
            new_deps = _drive(task, check_complete)
        if not new_deps:
            staging.commit()
    except BaseException as error:
        failure = output_write_error(task.task_id, error, [*staging.staged.values(), *task_output_paths(task)])
        staging.discard()
        if failure is not None:
            raise failure from error
        raise
    if new_deps:
        staging.discard()
    return new_deps


def task_output_paths(task: Any) -> list[str]:
    """The local paths of a task's outputs (for naming the full folder when writing them failed)."""
    try:
        return [target.path for target in flatten(task.output()) if isinstance(getattr(target, "path", None), str)]
    except Exception:
        return []


def _drive(task: Any, check_complete: Callable[[Any], bool]) -> NewDeps | None:
    generator = task.run()
    if not isinstance(generator, types.GeneratorType):
        return None
    reply = None
    while True:
        try:
            requires = generator.send(reply)
        except StopIteration:
            return None
        if not isinstance(requires, luigi.DynamicRequirements):
            requires = luigi.DynamicRequirements(requires)
        if not requires.complete(check_complete):
            return [(t.task_module, t.task_family, t.to_str_params()) for t in requires.flat_requirements]
        reply = requires.paths


class StagedTaskProcess(luigi.worker.ContextManagedTaskProcess):
    """luigi's task process with atomic outputs; a forked one dies with the steering process."""

    def run(self) -> None:
        """In a forked worker, first tie its life to the steering process, so a restart never races it."""
        if self.use_multiprocessing:
            die_with_parent(self._parent_pid)
        super().run()

    def _run_get_new_deps(self) -> NewDeps | None:
        return run_staged(self.task, self.check_complete)

    def _forward_attributes(self) -> Any:
        """luigi's forwarding of the reporter's callbacks; for b2core tasks one dict entry instead of ten setattr."""
        return forwarding(self.task, self.status_reporter, self.forward_reporter_attributes)


def forwarding(task: Any, reporter: Any, names: dict[str, str]) -> Any:
    """luigi's status reporter callbacks on a task while it runs (a context manager); b2core tasks hold them
    in one dict entry, other tasks get luigi's attributes."""
    key = (type(task), tuple(names.values()))
    held = _held_by_descriptors.get(key)
    if held is None:
        held = _held_by_descriptors[key] = held_by_descriptors(key[0], names.values())
    if held:
        return Forwarded(task, {task_attr: getattr(reporter, attr) for attr, task_attr in names.items()})
    return _set_attributes(task, reporter, names)


@contextlib.contextmanager
def _set_attributes(task: Any, reporter: Any, names: dict[str, str]) -> Iterator[None]:
    for attr, task_attr in names.items():
        setattr(task, task_attr, getattr(reporter, attr))
    try:
        yield
    finally:
        for task_attr in names.values():
            setattr(task, task_attr, None)


_held_by_descriptors: dict[tuple[type, tuple[str, ...]], bool] = {}


def run_direct(task: Any, check_complete: Callable[[Any], bool], reporter: Any) -> NewDeps | None:
    """A task's in-process run when b2core's worker runs it without luigi's task process: luigi's reporter
    callbacks on the task, staged outputs."""
    with forwarding(task, reporter, luigi.worker.TaskProcess.forward_reporter_attributes):
        return run_staged(task, check_complete)


def load_task_from_spec(spec_path: str | dict[str, Any], task_id: str) -> Any:
    """Instantiate the job's task from its spec file (or the spec itself), in O(1) instead of rebuilding the graph."""
    spec = spec_path if isinstance(spec_path, dict) else json.loads(Path(spec_path).read_text())
    task_class = luigi.task_register.Register.get_task_cls(spec["family"])
    task = task_class.from_str_params(spec["params"])
    if task.task_id != task_id:
        raise TaskNotFoundError(
            f"The task spec {spec_path} describes {task.task_id}, but the job was asked to run {task_id}; "
            "the task's parameters or code changed since submission"
        )
    return task


def find_task_in_graph(roots: list[Any], task_id: str) -> Any:
    """Find a task by id by walking the graph from the roots (when no spec file is given)."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        task = stack.pop()
        if task.task_id in seen:
            continue
        if task.task_id == task_id:
            return task
        seen.add(task.task_id)
        stack.extend(flatten(task.requires()))
    raise TaskNotFoundError(
        f"The task id {task_id} does not exist in the locally reproduced task graph; "
        "requires() must build the same graph on every call"
    )


def run_in_job(roots: list[Any], task_id: str, spec_path: str | None) -> None:
    """What a batch job does: run one task (or a pack of them), write new dependencies for the steering
    process, exit."""
    from b2core.batch.packrunner import PACK_TASK_ID_PREFIX, run_pack

    mark_in_job()
    if task_id.startswith(PACK_TASK_ID_PREFIX) and spec_path:
        code = run_pack(Path(spec_path))
        if code:
            raise SystemExit(code)
        return
    task = load_task_from_spec(spec_path, task_id) if spec_path else find_task_in_graph(roots, task_id)
    run_task_in_job(task)


def run_task_in_job(task: Any) -> None:
    """Run one loaded task as its job does: staged outputs, new dependencies left for the steering process."""
    from b2core.batch.engine import NEW_DEPENDENCIES_FILE
    from b2core.paths import task_file_dir

    try:
        new_deps = run_staged(task, lambda t: t.complete())
    except BaseException as error:
        task.on_failure(error)
        raise
    if new_deps:
        target = Path(task_file_dir(task)) / NEW_DEPENDENCIES_FILE
        target.parent.mkdir(parents=True, exist_ok=True)  # a packed task's folder is made only when needed
        target.write_text(json.dumps(new_deps))
        print(f"Task {task.task_id} needs {len(new_deps)} new dependencies; the steering process schedules them")
        return
    task.on_success()


def dispatch(run: Callable[..., Any]) -> Callable[..., Any]:
    """Run a task's run() in a child process, so a crash in native code fails the task, not the run."""

    @functools.wraps(run)
    def dispatched(self: Any, *args: Any, **kwargs: Any) -> Any:
        if running_in_job():
            return run(self, *args, **kwargs)
        run_in_child_process(self)
        return None

    return dispatched


def run_in_child_process(task: Any) -> None:
    """Run one task through its job wrapper as a blocking child process, logs in its log folder."""
    from b2core.batch.wrapper import log_paths, write_wrapper

    wrapper = write_wrapper(task)
    stdout_path, stderr_path = log_paths(task)
    with open(stdout_path, "w") as stdout, open(stderr_path, "w") as stderr:
        tied = functools.partial(die_with_parent, os.getpid())
        code = subprocess.call([str(wrapper)], stdout=stdout, stderr=stderr, preexec_fn=tied)
    if code != 0:
        raise RuntimeError(
            f"Task {task.task_id} failed in its child process with exit code {code}; see {stderr_path}"
            + tail_of(stderr_path)
        )


def tail_of(path: Path | str, lines: int = 10) -> str:
    """The last lines of a log file, indented, for failure messages."""
    try:
        text = Path(path).read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return ("\nLast lines of stderr:\n" + "\n".join("    " + line for line in text)) if text else ""


class DispatchableTask(Task):
    """A Task that implements process() instead of run(); process() runs in a child process."""

    def process(self) -> None:
        """The task's work, run in a child process."""
        raise NotImplementedError(f"{type(self).__name__} must implement process()")

    def run(self) -> None:
        """Dispatch process() to a child process."""
        dispatch(type(self).process)(self)


def on_temporary_files(run: Callable[..., Any]) -> Callable[..., Any]:
    """Write outputs in scratch_dir first, moving them into place only if run() succeeds; read inputs from copies.

    Inside the decorated run(), get_output_file_name(key, **tmp_file_kwargs) names a file in a fresh
    folder of scratch_dir, and the get_input_file_name(s) helpers name copies of the inputs made
    there once per run (n_download_threads at a time), as in b2luigi.
    """

    @functools.wraps(run)
    def with_scratch(self: Any, *args: Any, **kwargs: Any) -> Any:
        staging = active_staging(self)
        if staging is not None:
            staging.scratch_dir = get_setting("scratch_dir", task=self)
            return run(self, *args, **kwargs)
        staging = OutputStaging(get_setting("scratch_dir", task=self))
        try:
            with staging_for(self, staging):
                result = run(self, *args, **kwargs)
        except BaseException:
            staging.discard()
            raise
        staging.commit()
        return result

    return with_scratch
