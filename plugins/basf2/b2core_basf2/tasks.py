"""Tasks for basf2 work: run a basf2 path, merge ROOT files with hadd or b2file-merge.

Each runs its process() in a child process through the job wrapper (a crash in basf2 fails the
task, not the workflow), so they work locally and on every batch backend; basf2 is imported only
inside process(), so the steering process schedules them without a basf2 set-up.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

from b2core.errors import B2CoreError
from b2core.execution import DispatchableTask, on_temporary_files
from b2core.parameters import IntParameter, Parameter
from b2core.paths import map_folder
from b2core.task import Task

from b2core_basf2.targets import ROOTLocalTarget
from b2core_basf2.utils import get_basf2_git_hash

ROOT_SUFFIX = ".root"


class ReleaseParameter(Parameter):
    """A parameter defaulting to the basf2 release, looked up when a task needs it rather than at import."""

    @property
    def _default(self) -> Any:
        return get_basf2_git_hash()

    @_default.setter
    def _default(self, value: Any) -> None:
        """luigi's constructor stores a default here; the release lookup above replaces it."""


class Basf2Task(DispatchableTask, Task):
    """A task whose process() uses basf2: records the release it ran with; ``.root`` outputs are ROOT targets."""

    git_hash = ReleaseParameter(significant=False)

    def add_to_output(
        self,
        output_file_name_: str,
        target_class: type | None = None,
        result_dir: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """As Task.add_to_output; a ``.root`` file without an explicit target class becomes a ROOTLocalTarget."""
        if target_class is None and output_file_name_.endswith(ROOT_SUFFIX):
            target_class = ROOTLocalTarget
        return super().add_to_output(output_file_name_, target_class, result_dir, **kwargs)


class Basf2PathTask(Basf2Task):
    """Implement create_path() returning a basf2.Path; process() runs it (with batch_system = "gbasf2" on the grid)."""

    num_processes = IntParameter(default=0, significant=False)
    max_event = IntParameter(default=0, significant=False)

    def create_path(self) -> Any:
        """The basf2 path this task runs; every subclass implements it."""
        raise NotImplementedError(f"{type(self).__name__} must implement create_path() returning a basf2.Path")

    def path_to_process(self) -> Any:
        """The path process() runs: create_path()'s."""
        return self.create_path()

    @on_temporary_files
    def process(self) -> None:
        """Add a Progress module, print the path, process it and print basf2's statistics."""
        import basf2

        path = self.path_to_process()
        path.add_module("Progress")
        basf2.print_path(path)
        if self.num_processes:
            basf2.set_nprocesses(self.num_processes)
        basf2.process(path, max_event=self.max_event)
        print(basf2.statistics)


class SimplifiedOutputBasf2Task(Basf2PathTask):
    """A path task whose outputs are the files its RootOutput modules write (outputFileName)."""

    def output(self) -> Iterator[dict[str, ROOTLocalTarget]]:
        """One ROOT target per RootOutput module of create_path(), keyed by its outputFileName."""
        for _module, file_name in _root_outputs(self.create_path()):
            yield {file_name: ROOTLocalTarget(map_folder(file_name))}

    def path_to_process(self) -> Any:
        """create_path() with each RootOutput writing to its temporary name, moved into place on success."""
        path = self.create_path()
        for module, file_name in _root_outputs(path):
            module.param("outputFileName", self.get_output_file_name(file_name))
        return path


def _root_outputs(path: Any) -> Iterator[tuple[Any, str]]:
    for module in path.modules():
        if module.type() != "RootOutput":
            continue
        for parameter in module.available_params():
            if parameter.name == "outputFileName":
                yield module, str(parameter.values)


class MergerTask(Basf2Task):
    """Merges, for every input file name, the files of all required tasks into one output of that name.

    Subclasses set ``cmd``; each merge runs ``cmd + [output] + inputs`` and fails on a non-zero exit.
    """

    cmd: list[str] = []

    def output(self) -> Iterator[dict[str, Any]]:
        """One output per input file name."""
        for key in self.get_input_file_names():
            yield self.add_to_output(key)

    @on_temporary_files
    def process(self) -> None:
        """Run the merge command once per input file name."""
        if not self.cmd:
            raise B2CoreError(f"{type(self).__name__} sets no merge command: set cmd = ['tool', ...] on the class")
        for key, file_names in self.get_input_file_names().items():
            subprocess.check_call([*self.cmd, self.get_output_file_name(key), *file_names])


class HaddTask(MergerTask):
    """Merges ROOT files with ROOT's hadd (overwriting, -f)."""

    cmd = ["hadd", "-f"]


class Basf2FileMergeTask(MergerTask):
    """Merges basf2 output files (mdst, udst) with b2file-merge, which keeps their metadata consistent."""

    cmd = ["b2file-merge", "-f"]


class Basf2nTupleMergeTask(MergerTask):
    """Merges ntuple files with analysis-fei-mergefiles (fei_merge_files in older releases)."""

    @property
    def cmd(self) -> list[str]:  # type: ignore[override]
        """The merge tool this basf2 release has."""
        for tool in ("analysis-fei-mergefiles", "fei_merge_files"):
            if shutil.which(tool, path=os.environ.get("PATH")):
                return [tool]
        raise B2CoreError(
            f"{type(self).__name__} needs analysis-fei-mergefiles (or fei_merge_files) on PATH: set up a basf2 release"
        )
