"""luigi's Worker with the two places fixed where its cost or stack depth grows faster than the graph.

Profiling luigi.worker.Worker on a 100,000-task fan-in shows only linear costs (most of the time
goes into luigi's Task API: ``get_params``/``to_str_params``/instance caching, and the task's own
``run``), so almost everything is inherited unchanged. Two things are not linear:

* ``Worker.add`` keeps its ``seen`` set per call, so ``luigi.build([root_1, ..., root_k])`` walks
  (and re-runs ``complete()`` on) a shared, incomplete sub-graph once per root: O(k * size).
  :class:`LinearWorker` remembers, until ``run()`` starts, which tasks were already handed to the
  scheduler and does not walk them again. Events such as DEPENDENCY_DISCOVERED still fire for
  every edge; only the repeated walk below an already-scheduled task is skipped.
* ``luigi.execution_summary`` explains pending tasks with a recursive depth-first search, which
  raises RecursionError for long chains (e.g. a 1,000-task chain whose first task failed).
  :class:`LinearWorker` raises the interpreter's recursion limit, when needed, before the
  summary is built.

Two per-task costs that are not luigi's observable behaviour are also removed:

* luigi's result queue is a ``multiprocessing.Queue`` even for tasks run in this process, so every
  result is pickled, handed to a feeder thread and read back through a pipe.
  :class:`LocalFirstQueue` keeps results put by this process in a deque; forked task processes
  still use the pipe.
* Before a task runs, luigi calls ``complete()`` on each of its dependencies again (and so their
  ``output()``), which makes a fan-in of N cost N extra checks. A dependency this worker has just
  run successfully is complete by luigi's own rule (``check_complete_on_run`` off), so the worker
  remembers those runs, as luigi's ``cache_task_completion`` would, in a plain dict; dependencies
  found complete while scheduling are still checked again at run time, as in luigi.

What the execution summary reads is kept once per distinct fact: luigi's ``_add_task_history`` appends
a (task, status, runnable) triple on every registration and status report (two per task, about 150
bytes); :class:`TaskHistory` keeps each task once with its distinct (status, runnable) pairs, which
the summary reads as sets anyway.

Asking for work is O(1) per call instead of O(tasks in flight), which made 10,000 batch jobs in flight
cost minutes and gigabytes (luigi's ``_get_work`` copies every running task id into each request and
keeps every reply, with its list of running tasks, for the execution summary):

* The ids of the running tasks are sent as a live view of the worker's dict (a list only to a
  remote scheduler, which needs JSON); b2core's scheduler only looks up the tasks it handed out
  since the previous call.
* Of each reply only what the summary reads is kept: running tasks of *other* workers from replies
  that handed out nothing, each (worker, task) once. The summary's "being run by other workers"
  comes out the same.

Task execution (``_run_task``, ``_create_task_process``, ``_handle_next_task``,
``_purge_children``) is untouched, so subclasses can override ``_create_task_process`` to send
tasks elsewhere, and ``workers=1`` still runs tasks in-process. With a central scheduler a task
process checks ``complete()`` once before running, so that several steering processes sharing the
scheduler never run one task twice (see :func:`_run_unless_done_elsewhere`).
"""

from __future__ import annotations

import collections
import functools
import logging
import multiprocessing
import os
import sys
from collections.abc import Iterator
from typing import Any

import luigi
import luigi.worker
from b2core.scheduling.direct_run import DirectRun, Runner
from b2core.scheduling.scheduler import LinearScheduler
from luigi import rpc
from luigi.worker import GetWorkResponse, TaskClassException, load_task

logger = logging.getLogger("luigi-interface")

# recursion limit is only raised on interpreters where pure-Python recursion does not use the C stack
_PY311 = sys.version_info >= (3, 11)
_MAX_LIMIT_OLD_PYTHON = 20_000


class LocalFirstQueue:
    """luigi's task result queue; results from this process skip pickling and the feeder thread."""

    def __init__(self) -> None:
        """Results of forked task processes still travel through a multiprocessing queue."""
        self._pid = os.getpid()
        self._local: collections.deque[Any] = collections.deque()
        self._shared: Any = multiprocessing.Queue()

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Queue a task result (task_id, status, explanation, missing, new_deps)."""
        if os.getpid() == self._pid:
            self._local.append(item)
        else:
            self._shared.put(item, block, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Next result, waiting for forked processes only when this process queued none."""
        if self._local:
            return self._local.popleft()
        return self._shared.get(block, timeout)

    def close(self) -> None:
        """Close the pipe to forked processes."""
        self._shared.close()


class TaskHistory:
    """luigi's ``_add_task_history``: iterates the same distinct (task, status, runnable) triples, in the
    order each task first appeared (the summary's root task is the first), each task one dict entry."""

    def __init__(self) -> None:
        """Empty; luigi's worker appends to it."""
        self._pairs_of: dict[Any, tuple[tuple[str, Any], ...]] = {}
        self._interned: dict[tuple[tuple[str, Any], ...], tuple[tuple[str, Any], ...]] = {}

    def append(self, entry: tuple[Any, str, Any]) -> None:
        """Record a registration or status report (duplicates are kept once, as the summary's sets do)."""
        task, status, runnable = entry
        pairs = self._pairs_of.get(task, ())
        if (status, runnable) not in pairs:
            grown = (*pairs, (status, runnable))
            self._pairs_of[task] = self._interned.setdefault(grown, grown)

    def __iter__(self) -> Iterator[tuple[Any, str, Any]]:
        for task, pairs in self._pairs_of.items():
            for status, runnable in pairs:
                yield task, status, runnable

    def __getitem__(self, index: int) -> tuple[Any, str, Any]:
        if index == 0:
            for entry in self:
                return entry
        return list(self)[index]

    def __len__(self) -> int:
        return sum(len(pairs) for pairs in self._pairs_of.values())


class LinearWorker(luigi.worker.Worker):
    """luigi.worker.Worker whose scheduling walk is linear in the number of distinct tasks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Same arguments as luigi.worker.Worker."""
        super().__init__(*args, **kwargs)
        # ids of tasks already walked in the scheduling phase; None once run() started
        self._phase_seen: set[str] | None = set()
        self._task_result_queue.close()
        self._task_result_queue = LocalFirstQueue()
        self._add_task_history = TaskHistory()
        # luigi's Manager dict when cache_task_completion is set; otherwise the runs of this worker
        self._run_completions: Any = self._task_completion_cache
        if self._run_completions is None:
            self._run_completions = {}
        self._run_check = functools.partial(luigi.worker.check_complete_cached, completion_cache=self._run_completions)
        # (worker, task id) pairs already in _get_work_response_history
        self._seen_elsewhere: set[tuple[str, str]] = set()
        # task id -> ids of its dependencies, as registered with the scheduler
        self._deps_of: dict[str, tuple[str, ...]] = {}
        # this run's tasks run without a scheduler round trip each (see b2core.scheduling.direct_run); None:
        # not decided yet, False: luigi's loop
        self._direct: DirectRun | bool | None = None

    def _create_task_process(self, task: luigi.Task) -> Any:
        """luigi's task process, told which tasks this worker already ran successfully; with a central
        scheduler, one that first checks whether another steering process has finished the task meanwhile."""
        process = super()._create_task_process(task)
        process.task_completion_cache = self._run_completions
        deps = self._deps_of.get(task.task_id)
        if deps is not None and all(self._run_completions.get(dep) for dep in deps):
            # luigi's check would find each in the cache (and ask requires() again)
            process.check_unfulfilled_deps = False
        process.check_complete = self._run_check
        if isinstance(self._scheduler, rpc.RemoteScheduler):
            process.run = functools.partial(_run_unless_done_elsewhere, process, process.run)
        return process

    def add(self, task: luigi.Task, multiprocess: bool = False, processes: int = 0) -> bool:
        """Schedule a task and its incomplete dependencies, skipping sub-graphs already scheduled."""
        if self._phase_seen is not None and hasattr(task, "task_id"):
            self._phase_seen.add(task.task_id)
        if self._phase_seen is not None:
            if self._direct is None:
                runner = self._direct_runner()
                allowed = runner and not multiprocess and self._direct_allowed()
                self._direct = DirectRun(self, runner) if allowed else False
            if self._direct and self._direct.active:
                return self._direct.add(task)
        return super().add(task, multiprocess, processes)

    def _direct_runner(self) -> Runner | None:
        """How a subclass runs a task in this process for a direct run (b2core.scheduling.direct_run); None: never."""
        return None

    def _runs_here(self, task: luigi.Task) -> bool:
        """Whether this worker would run the task in this process (a direct run hands the others to luigi)."""
        return True

    def _starting(self, task: luigi.Task) -> None:
        """Called right before this worker runs a task."""

    def _walk_check(self, task: luigi.Task, is_complete: Any) -> bool:
        """Called before the scheduling walk looks at a task; False: not at it, nor below it."""
        return True

    def _direct_allowed(self) -> bool:
        """One worker in this process, b2core's scheduler in it, and none of luigi's options a direct run
        does not follow."""
        config = self._config
        return (
            self.worker_processes == 1
            and isinstance(self._scheduler, LinearScheduler)
            and not (self._assistant or config.force_multiprocessing or config.check_complete_on_run)
            and config.task_limit is None
            and self._task_completion_cache is None
            and not config.task_process_context
        )

    def _add_task(self, *args: Any, **kwargs: Any) -> None:
        """luigi's _add_task, remembering the dependencies a task is registered with; in a direct run kept
        here instead of sent (luigi's task history as luigi keeps it)."""
        deps = kwargs.get("deps")
        task_id = kwargs["task_id"]
        if deps is not None:
            self._deps_of[task_id] = tuple(deps)
        direct = self._direct
        if direct and direct.active:
            task = self._scheduled_tasks.get(task_id)
            if task is not None:
                self._add_task_history.append((task, kwargs["status"], kwargs["runnable"]))
            direct.record(task_id, kwargs["status"], kwargs["runnable"])
            return
        super()._add_task(*args, **kwargs)

    def _add(self, task: luigi.Task, is_complete: Any) -> Iterator[luigi.Task]:
        """luigi's _add, but dependencies already walked in this scheduling phase are not yielded again."""
        seen = self._phase_seen
        for dep in super()._add(task, is_complete):
            if seen is None:
                yield dep
                continue
            dep_id = getattr(dep, "task_id", None)
            if dep_id in seen:
                continue
            if dep_id is not None:
                seen.add(dep_id)
            yield dep

    def _get_work(self) -> GetWorkResponse:
        """luigi's _get_work, with the running task ids sent as a view and only new facts kept in the history."""
        if self._stop_requesting_work or self.worker_processes <= 0:
            response = super()._get_work()
            self._compact_last_reply()
            return response
        logger.debug("Asking scheduler for work...")
        current = self._running_tasks.keys()
        reply = self._scheduler.get_work(
            worker=self._id,
            host=self.host,
            assistant=self._assistant,
            current_tasks=list(current) if isinstance(self._scheduler, rpc.RemoteScheduler) else current,
        )
        running_tasks = reply["running_tasks"]
        task_id = self._get_work_task_id(reply)
        self._get_work_response_history.append({"task_id": task_id, "running_tasks": running_tasks})
        self._compact_last_reply()
        if task_id is not None and task_id not in self._scheduled_tasks:
            logger.info("Did not schedule %s, will load it dynamically", task_id)
            try:
                self._scheduled_tasks[task_id] = load_task(
                    module=reply.get("task_module"), task_name=reply["task_family"], params_str=reply["task_params"]
                )
            except TaskClassException as ex:
                self._handle_task_load_error(ex, [task_id])
                task_id = None
                self.run_succeeded = False
        if task_id is not None and "batch_task_ids" in reply:
            batch_tasks = filter(None, [self._scheduled_tasks.get(batch_id) for batch_id in reply["batch_task_ids"]])
            self._batch_running_tasks[task_id] = batch_tasks
        return GetWorkResponse(
            task_id=task_id,
            running_tasks=running_tasks,
            n_pending_tasks=reply["n_pending_tasks"],
            n_unique_pending=reply["n_unique_pending"],
            n_pending_last_scheduled=reply.get("n_pending_last_scheduled", 0),
            worker_state=reply.get("worker_state", luigi.worker.WORKER_STATE_ACTIVE),
        )

    def _compact_last_reply(self) -> None:
        """Keep of the last reply only other workers' running tasks not yet recorded (all the summary reads)."""
        history = self._get_work_response_history
        entry = history.pop()
        if entry["task_id"] is not None:
            return
        seen = self._seen_elsewhere
        new = []
        for running in entry["running_tasks"]:
            key = (running["worker"], running["task_id"])
            if running["worker"] != self._id and key not in seen:
                seen.add(key)
                new.append(running)
        if new:
            history.append({"task_id": None, "running_tasks": new})

    def run(self) -> bool:
        """Run scheduled tasks; from here on add() (dynamic dependencies) behaves exactly like luigi's."""
        self._phase_seen = None
        direct = self._direct
        if direct and direct.active:
            succeeded = direct.run()
            if succeeded is not None:
                return succeeded
        return super().run()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        """Stop like luigi's worker, then make room for the recursive execution summary."""
        result = super().__exit__(exc_type, exc, tb)
        self._ensure_recursion_limit()
        return result

    def _ensure_recursion_limit(self) -> None:
        """The summary recurses once per pending task along a chain; keep the limit above that."""
        needed = len(self._scheduled_tasks) + 1_000
        if not _PY311:
            needed = min(needed, _MAX_LIMIT_OLD_PYTHON)
        if sys.getrecursionlimit() < needed:
            sys.setrecursionlimit(needed)


def _run_unless_done_elsewhere(process: Any, run: Any) -> None:
    """Report a task DONE instead of running it when it is already complete.

    luigi's worker checks complete() of every task of a graph first and registers them one by one
    afterwards; with 10^4 tasks the last registrations reach the central scheduler minutes after
    the check, when another steering process may have run the task (and luigi's scheduler takes a
    PENDING claim older than stable_done_cooldown_secs as "its output is gone"), so the task would
    run twice. One complete() before the run closes that window.
    """
    task = process.task
    try:
        done = not luigi.worker._is_external(task) and task.complete()
    except Exception:  # luigi's run() reports it (or the run itself fails)
        done = False
    if done:
        logger.info("[pid %s] Worker %s skipped %s: complete before it ran", os.getpid(), process.worker_id, task)
        process.result_queue.put((task.task_id, luigi.worker.DONE, "complete before it ran", [], None))
        return
    run()
