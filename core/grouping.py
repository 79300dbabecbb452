"""b2luigi's parameter grouping on top of packing: tasks of a class with ``grouping=True`` parameters
that differ only in those share a batch job of up to ``max_grouping_size`` tasks (a chunk).

Each task still runs, succeeds or fails on its own; the chunk's job logs go to a log folder named
with b2luigi's names for the grouped values (``number=grouped_1_2_3``).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from typing import Any

from b2core.parameters import is_hidden, serialize_for_path
from b2core.paths import map_folder
from b2core.settings import get_setting


def grouped_names(task: Any) -> list[str]:
    """The task's grouped parameters (none for plain luigi tasks)."""
    names = getattr(task, "grouped_param_names", None)
    return names() if names is not None else []


def grouping_size(task: Any) -> int:
    """max_grouping_size for a task with grouped parameters, else 1."""
    size = int(getattr(task, "max_grouping_size", 1) or 1)
    return size if size > 1 and grouped_names(task) else 1


def chunk_key(task: Any) -> Hashable:
    """What tasks of one chunk share: the family and every parameter that is not grouped."""
    grouped = set(grouped_names(task))
    values = task.to_str_params(only_significant=False, only_public=False)
    return task.get_task_family(), tuple(sorted((k, v) for k, v in values.items() if k not in grouped))


def chunk_log_dir(tasks: Sequence[Any]) -> str:
    """<log_dir>/<p=v or p=grouped_...>/.../<Family>/ for the job of a chunk."""
    first = tasks[0]
    grouped = set(grouped_names(first))
    separator = get_setting("parameter_separator", task=first)
    with_names = get_setting("use_parameter_name_in_output", task=first)
    folders = []
    for name, parameter in first.get_params():
        if not parameter.significant or is_hidden(parameter):
            continue
        if name in grouped:
            text = parameter.grouping_function(tuple(task.param_kwargs[name] for task in tasks))
        else:
            text = serialize_for_path(parameter, first.param_kwargs[name])
        folders.append(f"{name}{separator}{text}" if with_names else text)
    return os.path.join(map_folder(get_setting("log_dir", task=first)), *folders, first.get_task_family(), "")
