"""A lower bound for any b2core worker loop that keeps luigi's task model: no luigi worker, no scheduler.

It walks the graph as luigi's worker does (``requires()``, ``complete()``, DEPENDENCY_DISCOVERED and
DEPENDENCY_PRESENT), then runs every incomplete task in dependency order through b2core's staged run
with START, PROCESSING_TIME and SUCCESS, and nothing else: no registration, retries, task process,
summary or progress. What b2core.process costs above this is what replacing luigi's worker and
scheduler could at most save; what this costs above the floor (workloads.fan_in_floor) is the task
model itself (instantiation, parameters, ``output()``, events) and b2core's staged run.
"""

from __future__ import annotations

import time
from typing import Any

import luigi
from b2core.execution import run_staged
from b2core.output_memo import remembering_outputs
from b2core.plugins import run_settings
from b2core.task import flatten

Event = luigi.Event


def build(roots: list[Any]) -> None:
    """Run the incomplete part of the graph below roots, each task once, dependencies first."""
    with remembering_outputs(run_settings()):  # as b2core's worker does while it runs
        for task in _incomplete_in_order(roots):
            task.trigger_event(Event.START, task)
            start = time.time()
            if run_staged(task, _complete):
                raise RuntimeError(f"{task.task_id} yielded new dependencies, which this loop does not handle")
            task.trigger_event(Event.PROCESSING_TIME, task, time.time() - start)
            task.trigger_event(Event.SUCCESS, task)


def _complete(task: Any) -> bool:
    return task.complete()


def _incomplete_in_order(roots: list[Any]) -> list[Any]:
    """Incomplete tasks below roots, each after its dependencies (an explicit stack: chains of 10^5)."""
    order: list[Any] = []
    state: dict[str, bool] = {}  # task id -> False while its dependencies are walked, True once placed
    stack: list[tuple[Any, bool]] = [(root, False) for root in reversed(roots)]
    while stack:
        task, deps_done = stack.pop()
        if deps_done:
            state[task.task_id] = True
            order.append(task)
            continue
        if task.task_id in state:
            continue
        if task.complete():
            task.trigger_event(Event.DEPENDENCY_PRESENT, task)
            state[task.task_id] = True
            continue
        state[task.task_id] = False
        stack.append((task, True))
        for dep in reversed(flatten(task.requires())):
            task.trigger_event(Event.DEPENDENCY_DISCOVERED, task, dep)
            if dep.task_id not in state:
                stack.append((dep, False))
    return order
