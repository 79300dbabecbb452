"""Running a local graph in this process without a round trip to the scheduler for every task.

With one in-process worker and b2core's in-process scheduler, luigi's worker spent about 170 us per
task above running the task itself (``benchmarks/scale.py``: b2core against the bare loop): it
registers every task with the scheduler, asks it for work, builds a task process and a status
reporter, and registers the result. :class:`DirectRun` keeps luigi's walk as it is (``complete()``,
``requires()``, every event, error and summary entry), records what the walk would register instead
of sending it, and then runs the tasks itself in the order the scheduler would hand them out, with
luigi's events, log lines, ``on_success`` and completion cache.

It hands the whole graph over to luigi's own loop (registering each task once, with the status it
has by then) at the first thing it does not do itself: a task the walk did not find runnable here
(an external task, a scheduling error, a disabled task, one with resources or its own priority), a
task the worker does not run in this process (a batch system, a container, a branch workflow), a
dependency found complete by the walk that is gone at run time, a failure (retries and the failure
e-mail are luigi's) or new dependencies from ``run()``.
"""

from __future__ import annotations

import collections
import heapq
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import luigi
import luigi.worker
from luigi.task_status import DISABLED, DONE, PENDING

logger = logging.getLogger("luigi-interface")
Event = luigi.Event
#: run(task, check_complete, reporter) -> luigi-style new dependencies; the worker's in-process run
Runner = Callable[[Any, Callable[[Any], bool], Any], Any]
_BROKEN = object()  # requires() raised


class HandedOver:
    """Stands in, in luigi's table of running tasks, for a task this run ran before handing over."""

    use_multiprocessing = False
    exitcode = 0
    timeout_time = None

    def __init__(self, task: Any) -> None:
        self.task = task

    def is_alive(self) -> bool:
        """Its run() has returned."""
        return False


class DirectRun:
    """The walk's registrations, kept by the worker, and the run of the tasks they describe."""

    def __init__(self, worker: Any, runner: Runner) -> None:
        self.worker = worker
        self.runner = runner
        self.active = True
        # task id -> (status and runnable as the walk registered it, the status its run reported), in walk order
        self.registered: dict[str, tuple[str, Any, str | None]] = {}

    def record(self, task_id: str, status: str, runnable: Any) -> None:
        """A registration luigi's worker would have sent to the scheduler now."""
        old = self.registered.get(task_id)
        self.registered[task_id] = (status, runnable, None) if old is None else (old[0], old[1], status)

    def add(self, root: Any) -> bool:
        """luigi's Worker.add: the same walk (breadth first, complete() of each task when found), events,
        log lines and errors; a task off the common path (complete() raising or not a bool, an external
        task, requires() raising) goes through luigi's own _add."""
        worker = self.worker
        if worker._first_task is None and hasattr(root, "task_id"):
            worker._first_task = root.task_id
        worker.add_succeeded = True
        worker._validate_task(root)
        seen = worker._phase_seen  # LinearWorker.add has put the root in; ids walked by earlier roots too
        queue = collections.deque([(root, self._checked(root))])
        try:
            while queue:
                task, is_complete = queue.popleft()
                for dep in self._walk(task, is_complete):
                    if dep.task_id not in seen:
                        worker._validate_task(dep)
                        seen.add(dep.task_id)
                        queue.append((dep, self._checked(dep)))
        except (KeyboardInterrupt, luigi.worker.TaskException):
            raise
        except Exception as error:
            worker.add_succeeded = False
            formatted = traceback.format_exc()
            worker._log_unexpected_error(root)
            root.trigger_event(Event.BROKEN_TASK, root, error)
            worker._email_unexpected_error(root, formatted)
            raise
        return worker.add_succeeded

    def _checked(self, task: Any) -> Any:
        """luigi's check_complete: the answer, or the traceback of complete() raising."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("Checking if %s is complete", task)
        try:
            return task.complete()
        except Exception:
            return luigi.worker.TracebackWrapper(traceback.format_exc())

    def _walk(self, task: Any, is_complete: Any) -> Iterator[Any]:
        """luigi's Worker._add for a task complete or to run here; its dependencies, for the walk."""
        worker = self.worker
        if not worker._walk_check(task, is_complete):
            return
        deps = None
        if is_complete is True:
            status, runnable = DONE, False
            task.trigger_event(Event.DEPENDENCY_PRESENT, task)
        elif is_complete is False and not luigi.worker._is_external(task) and (deps := self._deps(task)) is not _BROKEN:
            status, runnable = PENDING, True
        else:  # a traceback or no bool from complete(), an external task, requires() raising: luigi's way
            yield from luigi.worker.Worker._add(worker, task, is_complete)
            return
        if task.disabled:
            status = DISABLED
        if deps:
            for dep in deps:
                worker._validate_dependency(dep)
                task.trigger_event(Event.DEPENDENCY_DISCOVERED, task, dep)
                yield dep
            deps = [dep.task_id for dep in deps]
        worker._scheduled_tasks[task.task_id] = task
        task_id, family = task.task_id, task.task_family
        worker._add_task(worker=worker._id, task_id=task_id, status=status, deps=deps, runnable=runnable, family=family)

    def _deps(self, task: Any) -> Any:
        """task.deps(), or _BROKEN if requires() raised (luigi's _add then asks again and reports it, its
        traceback not chained to this one)."""
        try:
            deps = task.deps()
            self.worker._add_task_batcher(task)
        except Exception:
            return _BROKEN
        return deps

    def run(self) -> bool | None:
        """Run what the walk scheduled; None when handed over to luigi's loop, which then goes on."""
        worker = self.worker
        plan = self._plan()
        if plan is None:
            return self._hand_over()
        missing, waiting, ready = plan
        logger.info("Running Worker with %d processes", worker.worker_processes)
        worker.run_succeeded = True
        worker._add_worker()
        check = worker._run_check
        while ready:
            _, task_id = heapq.heappop(ready)
            task = worker._scheduled_tasks[task_id]
            if not self._runs_here(task):
                return self._hand_over()
            result = self._run_one(task, check)
            if result is not None:
                return self._hand_over(task, result)
            for entry in waiting.pop(task_id, ()):
                missing[entry[1]] -= 1
                if not missing[entry[1]]:
                    heapq.heappush(ready, entry)
        self.active = False
        return worker.run_succeeded

    def _plan(self) -> tuple[dict[str, int], dict[str, list[tuple[int, str]]], list[tuple[int, str]]] | None:
        """Unfinished dependencies per task, the dependents waiting for each and the tasks ready now, each as
        (walk order, id): the order the scheduler hands them out; None if the walk registered one only luigi's
        loop schedules."""
        worker = self.worker
        missing: dict[str, int] = {}
        waiting: dict[str, list[tuple[int, str]]] = {}
        ready = []
        registered = self.registered
        for index, (task_id, (status, runnable, _)) in enumerate(registered.items()):
            if status == DONE:
                continue
            task = worker._scheduled_tasks.get(task_id)
            if status != PENDING or runnable is not True or task is None or task.priority or task.process_resources():
                return None
            count = 0
            for dep in worker._deps_of.get(task_id, ()):
                dep_status = registered.get(dep, (None,))[0]
                if dep_status != DONE:
                    if dep_status != PENDING:
                        return None
                    waiting.setdefault(dep, []).append((index, task_id))
                    count += 1
            missing[task_id] = count
            if not count:
                ready.append((index, task_id))
        return missing, waiting, ready

    def _runs_here(self, task: Any) -> bool:
        """In this process, with every dependency still complete (luigi checks those it did not run)."""
        worker = self.worker
        try:
            if luigi.worker._is_external(task) or task.accepts_messages or not worker._runs_here(task):
                return False
            if not worker._config.check_unfulfilled_deps:
                return True
            deps = worker._deps_of.get(task.task_id, ())
            return all(worker._run_check(worker._scheduled_tasks[dep]) for dep in deps)
        except Exception:  # luigi's task process fails the task with this error
            return False

    def _run_one(self, task: Any, check: Callable[[Any], bool]) -> tuple[Any, ...] | None:
        """luigi's in-process task process; the result for luigi's loop unless the task succeeded."""
        worker = self.worker
        worker._starting(task)
        verbose = logger.isEnabledFor(logging.INFO)  # luigi's lines, without a getpid() per line when not shown
        if verbose:
            logger.info("[pid %s] Worker %s running   %s", os.getpid(), worker._id, task)
        reporter = luigi.worker.TaskStatusReporter(worker._scheduler, task.task_id, worker._id, None)
        try:
            task.trigger_event(Event.START, task)
            started = time.time()
            new_deps = self.runner(task, check, reporter)
            if new_deps:
                if verbose:
                    logger.info("[pid %s] Worker %s new requirements      %s", os.getpid(), worker._id, task)
                return (task.task_id, PENDING, "", [], new_deps)
            worker._run_completions[task.task_id] = True
            task.trigger_event(Event.PROCESSING_TIME, task, time.time() - started)
            task.on_success()
            if verbose:
                logger.info("[pid %s] Worker %s done      %s", os.getpid(), worker._id, task)
            task.trigger_event(Event.SUCCESS, task)
        except KeyboardInterrupt:
            raise
        except BaseException as error:
            logger.exception("[pid %s] Worker %s failed    %s", os.getpid(), worker._id, task)
            task.trigger_event(Event.FAILURE, task, error)
            return (task.task_id, luigi.worker.FAILED, task.on_failure(error), [], [])
        worker._add_task(worker=worker._id, task_id=task.task_id, status=DONE, runnable=None, family=task.task_family)
        return None

    def _hand_over(self, task: Any = None, result: tuple[Any, ...] | None = None) -> None:
        """Register every task as luigi's walk and the results so far would have; a result luigi's loop
        must handle (a failure, new dependencies) goes on its result queue."""
        self.active = False
        worker = self.worker
        for task_id, (status, runnable, reported) in self.registered.items():
            known = worker._scheduled_tasks[task_id]
            kwargs = {
                "worker": worker._id,
                "task_id": task_id,
                "resources": known.process_resources(),
                "params": known.to_str_params(),
                "family": known.task_family,
                "module": known.task_module,
                "retry_policy_dict": luigi.worker._get_retry_policy_dict(known),
            }
            worker._scheduler.add_task(
                **kwargs,
                status=status,
                deps=worker._deps_of.get(task_id),
                runnable=runnable,
                priority=known.priority,
                batchable=known.batchable,
                accepts_messages=known.accepts_messages,
                owners=known._owner_list(),
            )
            logger.info("Informed scheduler that task   %s   has status   %s", task_id, status)
            if reported is not None:
                worker._scheduler.add_task(**kwargs, status=reported, runnable=None)
                logger.info("Informed scheduler that task   %s   has status   %s", task_id, reported)
        self.registered.clear()
        if result is not None:
            worker._running_tasks[task.task_id] = HandedOver(task)
            worker._task_result_queue.put(result)
        return None
