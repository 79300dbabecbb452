"""A task whose work is a basf2 path: run locally with basf2, or submitted to the grid by the gbasf2 backend."""

from __future__ import annotations

from typing import Any

import luigi
from b2core.execution import DispatchableTask
from b2core.task import Task


class Basf2PathTask(DispatchableTask, Task):
    """Implement create_path() returning a basf2.Path; with batch_system = "gbasf2" it becomes a grid project.

    Run locally, process() builds the path, adds a Progress module and processes it in a child
    process (so a crash in basf2 fails the task, not the workflow).
    """

    num_processes = luigi.IntParameter(default=0, significant=False)
    max_event = luigi.IntParameter(default=0, significant=False)

    def create_path(self) -> Any:
        """The basf2 path this task runs; every subclass implements it."""
        raise NotImplementedError(f"{type(self).__name__} must implement create_path() returning a basf2.Path")

    def process(self) -> None:
        """Process the path with basf2 (imported here, so the steering process needs no basf2 to schedule)."""
        import basf2

        path = self.create_path()
        path.add_module("Progress")
        basf2.print_path(path)
        if self.num_processes and hasattr(basf2, "set_nprocesses"):
            basf2.set_nprocesses(self.num_processes)
        basf2.process(path, max_event=self.max_event)
        print(basf2.statistics)
