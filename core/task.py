"""b2luigi's Task API on top of luigi: outputs named by parameters, inputs looked up by file name."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Any

import luigi
from b2core.output_memo import remembered_target
from b2core.paths import output_file_name
from b2core.staging import active_staging
from b2core.targets import LocalTarget


def flatten_targets(struct: Any) -> Iterator[tuple[str, luigi.Target]]:
    """(key, target) for every target in an input/output structure; keys are add_to_output names."""
    if isinstance(struct, luigi.Target):
        yield os.path.basename(getattr(struct, "path", "")), struct
    elif isinstance(struct, dict):
        for key, value in struct.items():
            if isinstance(value, luigi.Target):
                yield key, value
            else:
                yield from flatten_targets(value)
    elif struct is not None and not isinstance(struct, str | bytes):
        for item in struct:
            yield from flatten_targets(item)


def _paths_by_name(struct: Any) -> dict[str, list[str]]:
    paths: dict[str, list[str]] = {}
    for key, target in flatten_targets(struct):
        paths.setdefault(os.path.basename(key), []).append(target.path)
    return paths


_parameter_generation = [0]  # bumped whenever a class gains a parameter after its creation


class TaskRegister(luigi.task_register.Register):
    """luigi's task metaclass, noticing parameters set on a class later (as inherits does)."""

    def __setattr__(cls, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if isinstance(value, luigi.Parameter):
            _parameter_generation[0] += 1


class Task(luigi.Task, metaclass=TaskRegister):
    """A luigi Task whose outputs land in <result_dir>/<param>=<value>/... and are written atomically."""

    @classmethod
    def get_params(cls) -> list[tuple[str, luigi.Parameter]]:
        """luigi walks dir(cls) on each of the many calls per task; a class's parameters rarely change."""
        cached = cls.__dict__.get("_b2core_params")
        if cached is None or cached[0] != _parameter_generation[0]:
            cached = (_parameter_generation[0], super().get_params())
            cls._b2core_params = cached
        return list(cached[1])

    def add_to_output(
        self,
        output_file_name_: str,
        target_class: type | None = None,
        result_dir: str | None = None,
        **kwargs: Any,
    ) -> dict[str, luigi.Target]:
        """Declare an output file; use as ``yield self.add_to_output("x.txt")`` in output()."""
        if kwargs:
            return {output_file_name_: self._make_target(output_file_name_, target_class, result_dir, kwargs)}
        key = (self.task_id, output_file_name_, target_class, result_dir)
        make = functools.partial(self._make_target, output_file_name_, target_class, result_dir, kwargs)
        return {output_file_name_: remembered_target(key, make)}

    def _make_target(
        self, name: str, target_class: type | None, result_dir: str | None, kwargs: dict[str, Any]
    ) -> luigi.Target:
        from b2core.settings import get_setting

        path = output_file_name(self, name, result_dir=result_dir)
        if target_class is None:
            target_class = get_setting("default_task_target_class", default=LocalTarget, task=self)
            kwargs = {**get_setting("target_class_kwargs", default={}, task=self), **kwargs}
        return target_class(path, **kwargs)

    def get_output_file_name(self, key: str) -> str:
        """The path to write an output to; inside run() a temporary name moved into place on success."""
        path = self._get_output_target(key).path
        staging = active_staging(self)
        return staging.path_for(path) if staging is not None else path

    def get_all_output_file_names(self) -> Iterator[str]:
        """Every output path of this task."""
        for _, target in flatten_targets(self.output()):
            yield target.path

    def get_input_file_names(self, key: str | None = None) -> dict[str, list[str]] | list[str]:
        """Input paths by output name of the required tasks, or the list for one name."""
        return self._select(_paths_by_name(self.input()), key)

    def get_input_file_names_from_dict(
        self, requirement_key: str, key: str | None = None
    ) -> dict[str, list[str]] | list[str]:
        """Like get_input_file_names, for the requirement named `requirement_key` of a dict requires()."""
        return self._select(_paths_by_name(self.input()[requirement_key]), key)

    def get_input_file_name(self, key: str | None = None) -> str:
        """The single input path for `key` (or the only input); errors when there is not exactly one."""
        paths = _paths_by_name(self.input())
        candidates = paths.get(key, []) if key is not None else [p for ps in paths.values() for p in ps]
        if len(candidates) != 1:
            raise ValueError(f"Task {self.task_id} expected exactly one input for {key!r}, found {len(candidates)}")
        return candidates[0]

    def get_all_input_file_names(self) -> Iterator[str]:
        """Every input path of this task."""
        for _, target in flatten_targets(self.input()):
            yield target.path

    def _select(self, paths: dict[str, list[str]], key: str | None) -> dict[str, list[str]] | list[str]:
        if key is None:
            return paths
        if key not in paths:
            raise KeyError(f"Task {self.task_id} has no input named {key!r}; its inputs are {sorted(paths)}")
        return paths[key]

    def _get_input_targets(self, key: str) -> list[luigi.Target]:
        return [target for name, target in flatten_targets(self.input()) if os.path.basename(name) == key]

    def _get_output_target(self, key: str) -> luigi.Target:
        for name, target in flatten_targets(self.output()):
            if name == key:
                return target
        raise KeyError(f"Task {self.task_id} has no output named {key!r}; declare it with add_to_output")

    def _remove_output(self) -> None:
        """Delete every output of this task (for remove_output implementations)."""
        for _, target in flatten_targets(self.output()):
            if target.exists():
                target.remove()


class ExternalTask(Task, luigi.ExternalTask):
    """An output produced outside the workflow, with b2core's output naming."""


class WrapperTask(Task, luigi.WrapperTask):
    """A task that only groups requirements; complete when they are."""
