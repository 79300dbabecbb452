"""Walking a workflow's graph for --dry-run, --show-output and --remove, without running it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from luigi.task import flatten


def walk(roots: list[Any], prune_complete: bool = False) -> Iterator[Any]:
    """Every task reachable from the roots once; with prune_complete, not below complete tasks."""
    seen: set[str] = set()
    stack = list(reversed(roots))
    while stack:
        task = stack.pop()
        if task.task_id in seen:
            continue
        seen.add(task.task_id)
        if prune_complete and task.complete():
            continue
        yield task
        stack.extend(reversed(flatten(task.requires())))


def dependants(roots: list[Any]) -> dict[str, set[str]]:
    """task_id to the ids of tasks that require it, for removing downstream outputs."""
    parents: dict[str, set[str]] = {}
    for task in walk(roots):
        for child in flatten(task.requires()):
            parents.setdefault(child.task_id, set()).add(task.task_id)
    return parents
