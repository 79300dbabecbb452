"""law-style branch workflows: one task class, many branches, the whole workflow one luigi task.

A class mixing in :class:`Workflow` defines ``create_branch_map() -> {branch: data}`` and writes
``output()``/``run()`` for one branch (``self.branch``, ``self.branch_data``). The task with
``branch=-1`` (the default) is the workflow: it is complete when its selected branches are, and
running it runs them. In batch mode its branches go straight to the batch engine, packed by
``tasks_per_job``, so a 100,000-branch workflow is one task for luigi and a few array jobs for the
batch system. ``--branch N`` runs one branch, ``--branches 0-9,20`` a subset.
"""

from __future__ import annotations

import re
from typing import Any

from b2core.errors import B2CoreError
from b2core.parameters import PARAMETER_TYPES
from b2core.settings import fixed_settings
from luigi.event import Event
from luigi.scheduler import DONE, FAILED, PENDING

_RANGE = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


def parse_branches(text: str) -> list[int]:
    """Branch numbers of a selection like ``0-9,20`` (ranges include both ends)."""
    numbers: list[int] = []
    for part in text.split(","):
        match = _RANGE.fullmatch(part)
        if not match:
            raise B2CoreError(f"--branches {text!r}: {part!r} is neither a branch number nor a range like 0-9")
        first, last = int(match[1]), int(match[2] if match[2] is not None else match[1])
        if last < first:
            raise B2CoreError(f"--branches {text!r}: the range {part.strip()!r} runs backwards")
        numbers.extend(range(first, last + 1))
    return list(dict.fromkeys(numbers))


class Workflow:
    """Mixin for b2core.Task: branches from create_branch_map(); branch=-1 is the workflow itself."""

    branch = PARAMETER_TYPES["IntParameter"](default=-1, description="The branch to run; -1: the whole workflow.")
    branches = PARAMETER_TYPES["Parameter"](
        default="", significant=False, description="Branches the workflow runs, e.g. 0-9,20; empty: all."
    )

    def create_branch_map(self) -> dict[int, Any]:
        """{branch number: data of that branch}; every workflow class defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define create_branch_map()")

    @property
    def branch_map(self) -> dict[int, Any]:
        """The branch map, computed once per task object."""
        if "_b2core_branch_map" not in self.__dict__:
            self.__dict__["_b2core_branch_map"] = dict(self.create_branch_map())
        return self.__dict__["_b2core_branch_map"]

    @property
    def is_workflow(self) -> bool:
        """True for the task that stands for the whole workflow (branch=-1)."""
        return self.branch < 0

    @property
    def branch_data(self) -> Any:
        """The data create_branch_map() gives this branch."""
        if self.is_workflow:
            raise B2CoreError(f"{self.task_id} is the whole workflow; only a branch has branch_data")
        if self.branch not in self.branch_map:
            raise B2CoreError(f"{type(self).__name__} has no branch {self.branch} (create_branch_map)")
        return self.branch_map[self.branch]

    def selected_branches(self) -> list[int]:
        """The branches this workflow runs: all, or those named by the branches parameter."""
        if not self.branches:
            return list(self.branch_map)
        chosen = parse_branches(self.branches)
        unknown = [b for b in chosen if b not in self.branch_map]
        if unknown:
            raise B2CoreError(f"{type(self).__name__} has no branch {unknown[0]} (--branches {self.branches})")
        return chosen

    def branch_tasks(self) -> list[Any]:
        """One task per selected branch (made once per workflow object; each knows its workflow)."""
        if "_b2core_branch_tasks" not in self.__dict__:
            branches = [self.clone(branch=number, branches="") for number in self.selected_branches()]
            for branch in branches:
                branch.__dict__["_b2core_workflow"] = self.task_id
            self.__dict__["_b2core_branch_tasks"] = branches
        return self.__dict__["_b2core_branch_tasks"]

    def workflow_requires(self) -> Any:
        """What the whole workflow needs before any branch runs (default: nothing)."""
        return []

    def _requires(self) -> Any:
        """luigi's requirements hook: the workflow needs workflow_requires(), a branch its requires()."""
        if self.is_workflow:
            from luigi.task import flatten

            return flatten(self.workflow_requires())
        return super()._requires()  # type: ignore[misc]

    def complete(self) -> bool:
        """A branch: its outputs exist; the workflow: every selected branch is complete."""
        if self.is_workflow:
            return all(task.complete() for task in self.branch_tasks())
        return super().complete()  # type: ignore[misc]


def workflow_of(task: Any) -> str | None:
    """The task id of the workflow whose branch_tasks() made this task, if one did."""
    return getattr(task, "__dict__", {}).get("_b2core_workflow")


def is_workflow_task(task: Any) -> bool:
    """Whether a task stands for a whole branch workflow."""
    return isinstance(task, Workflow) and task.is_workflow


def with_branch_flags(roots: list[Any], branch: int | None, branches: str) -> list[Any]:
    """The root tasks with --branch / --branches applied to the workflows among them."""
    if branch is None and not branches:
        return roots
    if not any(isinstance(root, Workflow) for root in roots):
        flag = "--branch" if branch is not None else "--branches"
        raise B2CoreError(f"{flag} needs a workflow task (a b2core.Workflow) among the tasks given to process()")
    if branches:
        parse_branches(branches)  # a mistake stops the run before anything is scheduled
    chosen = {"branch": branch} if branch is not None else {"branches": branches}
    return [root.clone(**chosen) if isinstance(root, Workflow) else root for root in roots]


class WorkflowProcess:
    """Runs a whole workflow as one luigi task: its branches go to the batch engine, or (without a batch
    system) back to luigi as dynamic dependencies."""

    use_multiprocessing = False
    exitcode = 0
    timeout_time = None

    def __init__(self, task: Any, result_queue: Any, engine: Any = None, backend: str | None = None) -> None:
        self.task = task
        self.result_queue = result_queue
        self.engine = engine
        self.backend = backend
        self.open: list[Any] = []
        self.failed: list[Any] = []
        self.reported = False

    def run(self) -> None:
        """Start the branches that are not complete yet."""
        self.task.trigger_event(Event.START, self.task)
        try:
            # one moment for all branches: settings the branches do not set themselves are read once
            with fixed_settings():
                todo = [branch for branch in self.task.branch_tasks() if not branch.complete()]
                if todo and self.engine is None:
                    self._report(PENDING, "", [(t.task_module, t.task_family, t.to_str_params()) for t in todo])
                    return
                for count, branch in enumerate(todo, 1):
                    self.open.append(self.engine.start(branch, self.backend))
                    if count % 500 == 0:
                        self.engine.tick()  # full packs leave while the rest is still being queued
        except Exception as error:
            self._report(FAILED, f"Workflow {self.task.task_id} could not start its branches: {error}")

    def is_alive(self) -> bool:
        """False once every branch's job ended; the result is then on luigi's result queue."""
        if self.reported:
            return False
        if self.engine is not None:
            self.engine.tick()
        still_open = []
        for job in self.open:
            if job.final is None:
                still_open.append(job)
            elif job.final.state.value != "succeeded" or not job.task.complete():
                self.failed.append(job)
        self.open = still_open
        if still_open:
            return True
        if self.failed:
            names = ", ".join(str(job.task.branch) for job in self.failed[:20])
            more = f" and {len(self.failed) - 20} more" if len(self.failed) > 20 else ""
            first = self.failed[0]
            detail = f"; first failure: {first.final.native_state} {first.final.reason}, stderr {first.spec.stderr}"
            self._report(FAILED, f"Workflow {self.task.task_id}: branch(es) {names}{more} failed{detail}")
        else:
            self.task.trigger_event(Event.SUCCESS, self.task)
            self._report(DONE, "")
        return False

    def terminate(self) -> None:
        """Cancel the branches' jobs (luigi calls this on timeouts)."""
        if self.engine is not None and self.open:
            self.engine.cancel(self.open)

    def _report(self, status: str, explanation: str, new_deps: list[Any] | None = None) -> None:
        if status == FAILED:
            self.task.trigger_event(Event.FAILURE, self.task, RuntimeError(explanation))
        self.reported = True
        self.result_queue.put((self.task.task_id, status, explanation, [], new_deps or []))
