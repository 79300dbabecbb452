"""Where outputs, logs and task files of a task live; refuses any path that escapes its base folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from b2core.errors import OutputPathError
from b2core.parameters import is_hidden, serialize_for_path
from b2core.settings import get_setting

NAME_MAX = 255  # bytes in one file name on the file systems b2core writes to


def script_dir() -> str:
    """The folder of the steering script, which relative settings paths are resolved against."""
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if main_file:
        return os.path.dirname(os.path.abspath(main_file))
    return os.getcwd()


def map_folder(folder: str) -> str:
    """Make a folder setting absolute: relative paths start at the script's folder, not the cwd."""
    if isinstance(folder, str) and folder[:1] == "/" and "$" not in folder:  # nothing to expand (every output asks)
        return folder
    folder = os.path.expanduser(os.path.expandvars(folder))
    if os.path.isabs(folder):
        return folder
    return os.path.abspath(os.path.join(script_dir(), folder))


def serialized_parameters(task: Any, include_hidden: bool = False) -> list[tuple[str, str]]:
    """(name, text) of each significant parameter, in luigi's parameter order, as used in folder names."""
    values = task.param_kwargs
    result = []
    for name, parameter in task.get_params():
        if not parameter.significant or (is_hidden(parameter) and not include_hidden):
            continue
        result.append((name, serialize_for_path(parameter, values[name])))
    return result


def _check_folder(task: Any, name: str, text: str, folder: str) -> None:
    """Refuse a folder name that would leave its base folder or is not a name: empty values are fine in p=."""
    reason = None
    if folder in ("", ".", ".."):
        reason = f"the folder would be {folder!r}" if folder else "the folder name would be empty"
    elif "/" in folder or os.sep in folder or (os.altsep and os.altsep in folder):
        reason = "it contains a path separator"
    elif "\0" in folder:
        reason = "it contains a NUL character"
    elif len(folder.encode()) > NAME_MAX:
        reason = f"the folder name would be {len(folder.encode())} bytes long, more than a file name may have"
        text = text[:40] + "..."
    if reason:
        raise OutputPathError(
            f"Parameter '{name}' of task {task.task_id} has the value {text!r}, which cannot be a folder name "
            f"because {reason}; use {name} = b2core.Parameter(hashed=True) to hash it into a safe name."
        )


def parameter_folders(task: Any, include_hidden: bool = False) -> tuple[str, ...]:
    """The folder names that encode a task's parameters; no name can leave its base folder."""
    name = "_b2core_folders_hidden" if include_hidden else "_b2core_folders"
    folders = task.__dict__.get(name)
    if folders is None:
        folders = task.__dict__[name] = tuple(_parameter_folders(task, include_hidden))
    return folders


def _parameter_folders(task: Any, include_hidden: bool) -> list[str]:
    separator = get_setting("parameter_separator", task=task)
    with_names = get_setting("use_parameter_name_in_output", task=task)
    folders = []
    for name, text in serialized_parameters(task, include_hidden):
        folder = f"{name}{separator}{text}" if with_names else text
        _check_folder(task, name, text, folder)
        folders.append(folder)
    return folders


_good_output_names: set[str] = set()  # names that passed _check_output_name (a workflow has few distinct ones)


def _check_output_name(task: Any, base_filename: str) -> None:
    """Refuse an output name that is absolute, climbs out with '..' or names no file."""
    if base_filename in _good_output_names:
        return
    parts = [part for part in base_filename.split(os.sep) if part not in ("", ".")]  # as Path().parts, cheaper
    if os.path.isabs(base_filename) or ".." in parts or "\0" in base_filename:
        raise OutputPathError(f"Output name {base_filename!r} of task {task.task_id} must be a relative path inside it")
    if not parts:
        raise OutputPathError(
            f"Output name {base_filename!r} of task {task.task_id} names no file (it would be the task's folder)"
        )
    if len(_good_output_names) < 10_000:
        _good_output_names.add(base_filename)


def output_file_name(task: Any, base_filename: str, result_dir: str | None = None, include_hidden: bool = False) -> str:
    """<result_dir>/<p1=v1>/.../<file> for one output of a task."""
    _check_output_name(task, base_filename)
    base = result_dir if result_dir is not None else map_folder(get_setting("result_dir", task=task))
    return os.path.join(base, *parameter_folders(task, include_hidden), base_filename)


def log_file_dir(task: Any) -> str:
    """<log_dir>/<p1=v1>/.../<TaskFamily>/, or the task's own get_log_file_dir()."""
    if hasattr(task, "get_log_file_dir"):
        return task.get_log_file_dir()
    base = map_folder(get_setting("log_dir", task=task))
    return os.path.join(base, *parameter_folders(task), task.get_task_family(), "")


def task_file_dir(task: Any) -> str:
    """<task_file_dir>/<p1=v1>/.../<TaskFamily>/ (hidden parameters included), or the task's own."""
    if hasattr(task, "get_task_file_dir"):
        return task.get_task_file_dir()
    base = map_folder(get_setting("task_file_dir", task=task))
    return os.path.join(base, *parameter_folders(task, include_hidden=True), task.get_task_family(), "")


def workflow_state_dir(log_dir: str) -> Path:
    """<log_dir>/.b2core: the job store, the workflow lock and the local backend's job folders."""
    return Path(log_dir) / ".b2core"
