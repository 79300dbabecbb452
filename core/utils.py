"""b2luigi's helper functions (b2luigi.core.utils), with b2luigi's signatures and return types."""

from __future__ import annotations

import collections
import itertools
import logging
import os
import sys
import types
from collections.abc import Iterable, Iterator
from typing import Any

from b2core.execution import create_output_dirs
from b2core.paths import log_file_dir as get_log_file_dir
from b2core.paths import map_folder, output_file_name, serialized_parameters
from b2core.paths import task_file_dir as get_task_file_dir

__all__ = [
    "add_on_failure_function",
    "create_output_dirs",
    "create_output_file_name",
    "fill_kwargs_with_lists",
    "flatten_to_dict",
    "flatten_to_dict_of_lists",
    "flatten_to_file_paths",
    "get_all_output_files_in_tree",
    "get_filename",
    "get_filled_params",
    "get_log_file_dir",
    "get_luigi_logger",
    "get_serialized_parameters",
    "get_task_file_dir",
    "is_subdir",
    "map_folder",
    "on_failure",
    "product_dict",
    "task_iterator",
]


def product_dict(**kwargs: Iterable[Any]) -> Iterator[dict[str, Any]]:
    """Every combination of the keyword values, as keyword dicts for clone() or a task class."""
    names = list(kwargs)
    for values in itertools.product(*kwargs.values()):
        yield dict(zip(names, values, strict=True))


def fill_kwargs_with_lists(**kwargs: Any) -> dict[str, list[Any]]:
    """The keywords with each single value (a string counts as one) turned into a one-item list; None gives []."""
    filled: dict[str, list[Any]] = {}
    for name, value in kwargs.items():
        if value is None:
            value = []
        elif isinstance(value, str) or not isinstance(value, Iterable):
            value = [value]
        filled[name] = value
    return filled


def _leaves(struct: Any) -> Iterator[Any]:
    """Dicts, strings and non-iterables of a nested structure, in order."""
    if isinstance(struct, dict | str):
        yield struct
        return
    try:
        items = iter(struct)
    except TypeError:
        yield struct
        return
    for item in items:
        yield from _leaves(item)


def _as_dicts(struct: Any) -> Iterator[dict[Any, Any]]:
    for leaf in _leaves(struct):
        yield leaf if isinstance(leaf, dict) else {leaf: leaf}


def flatten_to_dict(inputs: Any) -> dict[Any, Any]:
    """Merge a nested structure of dicts into one dict (later keys win); any other item x becomes {x: x}."""
    merged: dict[Any, Any] = {}
    for part in _as_dicts(inputs):
        merged.update(part)
    return merged


def flatten_to_dict_of_lists(inputs: Any) -> dict[Any, list[Any]]:
    """Like flatten_to_dict, but keeping every value of a repeated key, in order."""
    merged: dict[Any, list[Any]] = collections.defaultdict(list)
    for part in _as_dicts(inputs):
        for key, value in part.items():
            merged[key].append(value)
    return dict(merged)


def flatten_to_file_paths(inputs: Any) -> dict[str, list[Any]]:
    """{basename of each key: [paths of its targets]}, as get_input_file_names() returns them."""
    return {
        os.path.basename(getattr(key, "path", key)): [getattr(value, "path", value) for value in values]
        for key, values in flatten_to_dict_of_lists(inputs).items()
    }


def task_iterator(task: Any, only_non_complete: bool = False) -> Iterator[Any]:
    """The task and everything it depends on, each once, depth first; only_non_complete stops at complete tasks."""
    seen: set[str] = set()

    def visit(current: Any) -> Iterator[Any]:
        if only_non_complete and current.complete():
            return
        yield current
        for dependency in current.deps():
            if dependency.task_id not in seen:
                seen.add(dependency.task_id)
                yield from visit(dependency)

    yield from visit(task)


def get_filled_params(task: Any) -> dict[str, Any]:
    """{name: value} of every parameter of the task."""
    return {name: getattr(task, name) for name, _ in task.get_params()}


def get_serialized_parameters(task: Any, need_hidden: bool = False) -> collections.OrderedDict[str, str]:
    """{name: text in folder names} of the significant parameters (hidden ones only with need_hidden)."""
    return collections.OrderedDict(serialized_parameters(task, include_hidden=need_hidden))


def create_output_file_name(
    task: Any, base_filename: str, result_dir: str | None = None, need_hidden: bool = False
) -> str:
    """<result_dir>/<p1=v1>/.../<base_filename>; result_dir defaults to the setting, mapped to the script's folder."""
    return output_file_name(task, base_filename, result_dir=result_dir or None, include_hidden=need_hidden)


def get_all_output_files_in_tree(root_module: Any, key: str | None = None) -> Any:
    """{output name: [{exists, parameters, file_name}, ...]} over the whole graph below a task, or one name's list."""
    if key:
        return get_all_output_files_in_tree(root_module)[key]
    found: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for task in task_iterator(root_module):
        for output_key, target in flatten_to_dict(task.output()).items():
            ((name, (path,)),) = flatten_to_file_paths({output_key: target}).items()
            found[name].append(
                {
                    "exists": target.exists(),
                    "parameters": get_serialized_parameters(task),
                    "file_name": os.path.abspath(path),
                }
            )
    return found


def get_filename() -> str:
    """The absolute path of the steering script; AttributeError where there is none (Jupyter, the REPL)."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file is None:
        raise AttributeError("module '__main__' has no attribute '__file__'")
    return os.path.abspath(main_file)


def is_subdir(path: str, parent_dir: str) -> bool:
    """Whether path is parent_dir or lies inside it (both made absolute first)."""
    path, parent_dir = os.path.abspath(path), os.path.abspath(parent_dir)
    return os.path.commonpath([path, parent_dir]) == parent_dir


def on_failure(task: Any, _exception: BaseException | None = None) -> str:
    """Print and return which task failed, with its parameters and log folder (b2luigi's failure explanation)."""
    lines = [f"Failed task {task} with task_id and parameters:", f"\ttask_id={task.task_id}"]
    lines += [f"\t{name}={value}" for name, value in get_filled_params(task).items()]
    lines += ["Please have a look into the log files in:", os.path.abspath(get_log_file_dir(task))]
    explanation = "\n".join(lines)
    print(explanation)
    return explanation


def add_on_failure_function(task: Any) -> None:
    """Make on_failure the task's failure handler, so its explanation reaches the scheduler."""
    task.on_failure = types.MethodType(on_failure, task)


def get_luigi_logger() -> logging.Logger:
    """luigi's own logger ("luigi-interface")."""
    return logging.getLogger("luigi-interface")
