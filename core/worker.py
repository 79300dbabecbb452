"""luigi's worker with one change: each task is run in-process or handed to a batch backend."""

from __future__ import annotations

import logging
import time
from typing import Any

import luigi
from b2core.batch.commands import CommandRunner
from b2core.batch.engine import BatchEngine
from b2core.batch.job_process import BatchTaskProcess
from b2core.batch.jobstore import JobStore, store_path
from b2core.batch.settle import settle_unwatched
from b2core.errors import B2CoreError
from b2core.execution import StagedTaskProcess, run_direct
from b2core.output_memo import remembering_outputs
from b2core.paths import map_folder
from b2core.plugins import (
    AUTO,
    backend_class,
    installed_backends,
    plugin_manager,
    resolve_auto,
    run_settings,
    unknown_backend_message,
)
from b2core.progress import ProgressTracker
from b2core.scheduling import LinearWorker
from b2core.scheduling import WorkerSchedulerFactory as LinearWorkerSchedulerFactory
from b2core.settings import get_setting, task_defines
from b2core.workflow import WorkflowProcess, is_workflow_task
from luigi import rpc
from luigi.scheduler import FAILED

logger = logging.getLogger("b2core")


_known_backends: set[str] = set()


def choose_backend(task: Any, batch_mode: bool) -> str | None:
    """The backend a task runs on, or None to run it in this process.

    Without --batch only tasks that name their own batch_system (or need a container) leave the
    process; wrapper tasks never do, they have no work of their own.
    """
    if isinstance(task, luigi.WrapperTask):
        return None
    if batch_mode or task_defines(task, "batch_system"):
        name = get_setting("batch_system", task=task)
        if name == AUTO:
            name = resolve_auto()
        if name not in _known_backends and name not in installed_backends():
            raise B2CoreError(f"Task {task.task_id}: {unknown_backend_message(name)}")
        _known_backends.add(name)  # reading entry points costs milliseconds; once per name is enough
        if batch_mode or name != "local":
            return name
    if plugin_manager().hook.b2core_task_needs_wrapper(task=task):
        return "local"
    return None


def check_task_class(task: Any, batch_mode: bool, checked_backends: set[str]) -> None:
    """Fail at start on what would fail every task of this class: a setting attribute of the wrong
    type, a batch system that is unknown or that `auto` cannot find, or global settings of its
    backend that no job could be submitted with (checked once per backend and run)."""
    from b2core.settings_models import known_settings

    for key in known_settings():
        if task_defines(task, key):
            try:
                get_setting(key, task=task)
            except B2CoreError:
                raise
            except Exception:  # a property that cannot be read yet fails its task when it runs
                continue
    backend = choose_backend(task, batch_mode)
    if backend is not None:
        check_backend_settings(backend, checked_backends)


def check_backend_settings(backend: str, checked_backends: set[str]) -> None:
    """Run a backend's check of the global settings unless this run already did (once per backend and run)."""
    if backend not in checked_backends:
        checked_backends.add(backend)
        backend_class(backend)(CommandRunner()).check_settings()


class FailedTaskProcess:
    """Stands in for a task that could not even be started, reporting why."""

    use_multiprocessing = False
    exitcode = 0
    timeout_time = None

    def __init__(self, task: Any, result_queue: Any, explanation: str) -> None:
        self.task = task
        self.result_queue = result_queue
        self.explanation = explanation

    def run(self) -> None:
        """Report the failure at once."""
        self.result_queue.put((self.task.task_id, FAILED, self.explanation, [], []))

    def is_alive(self) -> bool:
        """Never alive."""
        return False

    def terminate(self) -> None:
        """Nothing to stop."""


class B2Worker(LinearWorker):
    """Routes tasks to in-process runs with atomic outputs, or to the batch engine."""

    batch_mode = False
    tracker: ProgressTracker | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.engine: BatchEngine | None = None
        self._watched: set[str] = set()  # running tasks luigi's own checks must look at (not batch jobs)
        self._checked_classes: set[type] = set()
        self._checked_backends: set[str] = set()
        self._startup_error: B2CoreError | None = None

    def _add(self, task: Any, is_complete: Any) -> Any:
        """Schedule like luigi, but check each class of task that will run once, before anything runs."""
        if self._walk_check(task, is_complete):
            yield from super()._add(task, is_complete)

    def _walk_check(self, task: Any, is_complete: Any) -> bool:
        """Check the class of a task that will run, once per class; False stops the walk: run() then reports
        the one error instead of running anything."""
        if self._phase_seen is not None and not is_complete and type(task) not in self._checked_classes:
            self._checked_classes.add(type(task))
            try:
                check_task_class(task, self.batch_mode, self._checked_backends)
            except B2CoreError as error:
                self._startup_error = self._startup_error or error
        return self._startup_error is None

    def run(self) -> bool:
        """Run the scheduled tasks, unless the scheduling phase found a task that no run can start."""
        if self._startup_error is not None:
            raise self._startup_error
        return super().run()

    def _keep_alive(self, get_work_response: Any) -> bool:
        """With a central scheduler, also wait while another steering process runs tasks of this workflow."""
        if isinstance(self._scheduler, rpc.RemoteScheduler) and get_work_response.running_tasks:
            return not self._stop_requesting_work
        return super()._keep_alive(get_work_response)

    def _add_task(self, *args: Any, **kwargs: Any) -> Any:
        if self.tracker is not None:
            self.tracker.task_changed(
                kwargs["task_id"], kwargs.get("family", ""), kwargs["status"], kwargs.get("expl", "")
            )
        return super()._add_task(*args, **kwargs)

    def _log_complete_error(self, task: Any, traceback: str) -> None:
        """complete() or output() raised while scheduling: a failure of that task, counted and summarised."""
        super()._log_complete_error(task, traceback)
        self._scheduling_failed(task, "raised in complete() while scheduling", traceback)

    def _log_dependency_error(self, task: Any, traceback: str) -> None:
        """requires() raised while scheduling: as above."""
        super()._log_dependency_error(task, traceback)
        self._scheduling_failed(task, "raised in requires() while scheduling", traceback)

    def _scheduling_failed(self, task: Any, where: str, traceback: str) -> None:
        if self.tracker is not None:
            last = traceback.strip().splitlines()[-1] if traceback.strip() else ""
            text = last if last.startswith("b2core.errors.") else traceback
            self.tracker.task_changed(task.task_id, task.get_task_family(), "FAILED", f"{where}: {text}")

    def _run_task(self, task_id: str) -> None:
        task = self._scheduled_tasks.get(task_id)
        if task is not None:
            self._starting(task)
        super()._run_task(task_id)

    def _starting(self, task: Any) -> None:
        if self.tracker is not None:
            self.tracker.task_changed(task.task_id, task.get_task_family(), "RUNNING")

    def _direct_runner(self) -> Any:
        """Without --batch, tasks that stay in this process run with staged outputs, without luigi's loop."""
        return None if self.batch_mode else run_direct

    def _runs_here(self, task: Any) -> bool:
        try:
            return not is_workflow_task(task) and choose_backend(task, self.batch_mode) is None
        except B2CoreError:
            return False  # luigi's loop reports it as the task's failure

    def _create_task_process(self, task: Any) -> Any:
        try:
            if is_workflow_task(task):
                return self._workflow_process(task)
            backend = choose_backend(task, self.batch_mode)
            engine = self._engine() if backend is not None else None
        except B2CoreError as error:
            return FailedTaskProcess(task, self._task_result_queue, str(error))
        if backend is None:
            process = super()._create_task_process(task)
            process.__class__ = StagedTaskProcess  # same state, staged run(); keeps luigi's construction
            if process.use_multiprocessing:  # a run in this process has ended before luigi could look at it
                self._watched.add(task.task_id)
            return process
        process = BatchTaskProcess(task, backend, engine, self._task_result_queue, self._config.timeout)
        if process.worker_timeout:
            self._watched.add(task.task_id)
        return process

    def _workflow_process(self, task: Any) -> WorkflowProcess:
        """A whole branch workflow: its branches go to the engine (or, run locally, back to luigi)."""
        branches = task.branch_tasks()
        backend = choose_backend(branches[0], self.batch_mode) if branches else None
        self._watched.add(task.task_id)
        return WorkflowProcess(task, self._task_result_queue, self._engine() if backend else None, backend)

    def _purge_children(self) -> None:
        """luigi asks every running task after each result, O(n) each time; a batch job is only looked at
        when the engine says it ended, so 100,000 jobs in flight cost O(1) per result."""
        if self.engine is None:
            super()._purge_children()
            return
        self.engine.tick()
        ended, self.engine.ended = self.engine.ended, []
        for job in ended:
            process = self._running_tasks.get(job.task.task_id)
            if isinstance(process, BatchTaskProcess):
                process.is_alive()  # puts the job's result on luigi's result queue
        running = self._running_tasks
        self._watched &= running.keys()
        self._running_tasks = {task_id: running[task_id] for task_id in self._watched}
        self._decide_timeouts()
        try:
            super()._purge_children()
        finally:
            self._running_tasks = running
        self.engine.flush_cancels()  # the jobs of every task that timed out in this pass, in one command

    def _decide_timeouts(self) -> None:
        """Decide which batch tasks timed out at one moment, so jobs timing out together are cancelled
        together: luigi's own loop reads the clock once per task and would split them. A task's
        timeout counts from its job's submission, which jobs submitted together share."""
        moment = time.time()
        for process in self._running_tasks.values():
            if isinstance(process, BatchTaskProcess):
                process.timeout_time = moment if process.timed_out(moment) else None

    def _engine(self) -> BatchEngine:
        if self.engine is None:
            self.engine = BatchEngine(JobStore(store_path(map_folder(get_setting("log_dir")))))
            # luigi's worker looks at running tasks (and so ticks the engine) once per wait_interval
            cadence = min(get_setting("poll_interval"), get_setting("submit_interval"))
            self._config.wait_interval = min(self._config.wait_interval, cadence)
        return self.engine

    def __enter__(self) -> B2Worker:
        self._outputs = remembering_outputs(run_settings())
        self._outputs.__enter__()
        return super().__enter__()

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> bool:
        self._outputs.__exit__(None, None, None)
        if kind is None and self.batch_mode:
            path = store_path(map_folder(get_setting("log_dir")))
            settle_unwatched(self.engine.store if self.engine is not None else None, path)
        if self.engine is not None:
            self.engine.flush_cancels()  # timed-out jobs of the last pass
            if kind is not None:
                self._stop_jobs(interrupted=issubclass(kind, KeyboardInterrupt))
            self._running_tasks = {
                k: p for k, p in self._running_tasks.items() if not isinstance(p, BatchTaskProcess | WorkflowProcess)
            }
        try:
            return super().__exit__(kind, value, traceback)
        finally:
            if self.engine is not None:
                self.engine.close()

    def _stop_jobs(self, interrupted: bool) -> None:
        unfinished = self.engine.unfinished() if self.engine else []
        if not unfinished:
            return
        if interrupted and not get_setting("cancel_jobs_on_interrupt"):
            print(f"Interrupted: leaving {len(unfinished)} job(s) running; start again to re-attach to them.")
            return
        count = self.engine.cancel(unfinished)
        print(f"Interrupted: cancelled {count} batch job(s) submitted by this run.")


class WorkerSchedulerFactory(LinearWorkerSchedulerFactory):
    """Gives luigi.build b2core's worker and, for local runs, the linear-time scheduler."""

    worker_class = B2Worker

    def __init__(
        self,
        batch_mode: bool = False,
        tracker: ProgressTracker | None = None,
        checked_backends: set[str] | None = None,
    ) -> None:
        """checked_backends: backends whose settings the run checked at start, not checked again per class."""
        super().__init__()
        self.batch_mode = batch_mode
        self.tracker = tracker
        self.checked_backends = set(checked_backends or ())

    def create_worker(self, scheduler: Any, worker_processes: int, assistant: bool = False) -> B2Worker:
        """A worker that knows whether this run is in batch mode and whom to report progress to."""
        worker = super().create_worker(scheduler, worker_processes, assistant)
        worker.batch_mode = self.batch_mode
        worker.tracker = self.tracker
        worker._checked_backends |= self.checked_backends
        return worker
