"""Walking a workflow's graph for --dry-run, --show-output and --remove, without running it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from b2core.task import flatten


def walk(roots: list[Any], prune_complete: bool = False, parents: dict[str, set[str]] | None = None) -> Iterator[Any]:
    """Every task reachable from the roots once; with prune_complete, not below complete tasks.

    Each task's requires() is called once; given a dict, parents gets the ids of the tasks that require
    each task id (for removing downstream outputs without a second walk).
    """
    seen: set[str] = set()
    stack = list(reversed(roots))
    while stack:
        task = stack.pop()
        task_id = task.task_id
        if task_id in seen:
            continue
        seen.add(task_id)
        if prune_complete and task.complete():
            continue
        yield task
        children = flatten(task.requires())
        if parents is not None:
            for child in children:
                parents.setdefault(child.task_id, set()).add(task_id)
        children.reverse()
        stack.extend(children)


def find_cycle(roots: list[Any]) -> list[str] | None:
    """The task ids along one dependency cycle reachable from the roots (first id repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: fully explored
    for root in roots:
        if root.task_id in state:
            continue
        path: list[Any] = [root]
        children: list[Iterator[Any]] = [iter(flatten(root.requires()))]
        state[root.task_id] = 1
        while children:
            child = next(children[-1], None)
            if child is None:
                state[path.pop().task_id] = 2
                children.pop()
            elif state.get(child.task_id) == 1:
                ids = [task.task_id for task in path]
                return [*ids[ids.index(child.task_id) :], child.task_id]
            elif child.task_id not in state:
                state[child.task_id] = 1
                path.append(child)
                children.append(iter(flatten(child.requires())))
    return None
