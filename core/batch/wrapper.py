"""The job wrapper script: set up the environment, change folder, run exactly one task.

Every value that comes from parameters or settings is shell-quoted, so spaces, quotes, ``$()``,
backticks or newlines arrive unchanged and execute nothing. Only ``executable`` and
``executable_prefix`` items may name environment variables (``$MY_PYTHON``), as b2luigi allows.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import sys
from pathlib import Path
from typing import Any

from b2core.hookspecs import JobCommand
from b2core.paths import log_file_dir, map_folder, script_dir, task_file_dir, workflow_state_dir
from b2core.settings import get_setting

_VARIABLE = re.compile(r"\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")


def quote_allowing_variables(word: str) -> str:
    """Quote a word so only $NAME / ${NAME} expand; $(...), backticks and quotes stay literal."""
    parts = []
    position = 0
    for match in _VARIABLE.finditer(word):
        parts.append(shlex.quote(word[position : match.start()]) if match.start() > position else "")
        parts.append('"' + match.group(0) + '"')
        position = match.end()
    if position < len(word) or not parts:
        parts.append(shlex.quote(word[position:]))
    return "".join(parts)


def task_spec_path(task: Any) -> Path:
    """Where the job finds its task's family and parameters, so it need not rebuild the graph."""
    return Path(task_file_dir(task)) / "task.json"


def task_spec(task: Any) -> dict[str, Any]:
    """What the job must instantiate: module, family and luigi string parameters."""
    return {
        "task_id": task.task_id,
        "module": task.task_module,
        "family": task.get_task_family(),
        "params": task.to_str_params(only_significant=False, only_public=False),
    }


def this_workflow() -> str:
    """The workflow a submission belongs to (its state folder): another workflow may have equal task ids."""
    return str(workflow_state_dir(map_folder(get_setting("log_dir"))).resolve())


def write_task_spec(task: Any) -> Path:
    """Record the task's spec in its task folder, where its job finds it (and find() the workflow)."""
    path = task_spec_path(task)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, json.dumps({**task_spec(task), "workflow": this_workflow()}))
    return path


def job_command(task: Any, task_id: str | None = None, spec_path: Path | None = None) -> JobCommand:
    """The command line that runs one task inside a job (before any plugin wraps it); a pack of tasks
    passes its own id and manifest instead of the task's."""
    script = _script_as_seen_from_the_job(task)
    executable = get_setting("executable", task=task) or [sys.executable]
    argv = [*get_setting("executable_prefix", task=task, deprecated_keys=["cmd_prefix"]), *executable]
    expandable = len(argv)
    if get_setting("add_filename_to_cmd", task=task) and script:
        argv.append(script)
    spec = spec_path or task_spec_path(task)
    argv += ["--batch-runner", "--task-id", task_id or task.task_id, "--task-spec", str(spec)]
    argv += get_setting("task_cmd_additional_args", task=task)
    return JobCommand(argv=argv, env_script=get_setting("env_script", task=task), expandable=expandable)


def _script_as_seen_from_the_job(task: Any) -> str:
    """The steering script for the job's command line: by its bare name where the job runs in a copy of
    its folder (working_dir "." with transferred files), else by its absolute path, which a job on a
    shared file system reaches from any working_dir."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", "") or ""
    if not main_file:
        return ""
    return os.path.basename(main_file) if get_setting("working_dir", task=task) == "." else os.path.abspath(main_file)


def working_dir(task: Any) -> str:
    """The folder the job runs in: the working_dir setting, else the steering script's folder."""
    configured = get_setting("working_dir", task=task)
    return map_folder(configured) if configured and configured != "." else (configured or script_dir())


def shell_words(command: JobCommand) -> str:
    """The command as one shell line: leading executable words may expand $VARS, the rest are literal."""
    words = [quote_allowing_variables(w) for w in command.argv[: command.expandable]]
    return " ".join(words + [shlex.quote(w) for w in command.argv[command.expandable :]])


def render_wrapper(task: Any, command: JobCommand) -> str:
    """The text of executable_wrapper.sh for one task."""
    lines = [
        f"#!/usr/bin/env {shlex.quote(get_setting('shell', task=task))}",
        "# Written by b2core: runs exactly one task. Safe to read, not meant to be edited.",
        "set -e",
        f"cd {shlex.quote(working_dir(task))}",
        "echo 'Working in the folder:'; pwd",
    ]
    if command.env_script:
        lines += ["echo 'Setting up the environment'", f"source {shlex.quote(command.env_script)}"]
    for key, value in get_setting("env", task=task).items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"Setting 'env' of task {task.task_id} has an invalid variable name {key!r}")
        lines.append(f"export {key}={shlex.quote(str(value))}")
    lines += [*command.notes, "echo 'Will now execute the program'", "exec " + shell_words(command), ""]
    return "\n".join(lines)


def wrapped_command(task: Any, command: JobCommand) -> JobCommand:
    """The command after every plugin had the chance to wrap it (e.g. in a container)."""
    from b2core.plugins import plugin_manager

    caller = plugin_manager().hook.b2core_wrap_command
    for impl in reversed(caller.get_hookimpls()):  # pluggy's call order; each wraps the previous result
        arguments = {"task": task, "command": command}
        command = impl.function(*(arguments[name] for name in impl.argnames)) or command
    return command


def write_wrapper(task: Any) -> Path:
    """Write the task spec and executable_wrapper.sh (after plugins had the chance to wrap the command)."""
    write_task_spec(task)
    path = Path(task_file_dir(task)) / "executable_wrapper.sh"
    write_executable(path, render_wrapper(task, wrapped_command(task, job_command(task))))
    return path


def write_executable(path: Path, text: str) -> None:
    """Write a script atomically and make it executable."""
    _write_atomically(path, text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def log_paths(task: Any, create: bool = True) -> tuple[Path, Path]:
    """(stdout, stderr) of a task's job, in its log folder (created unless the job creates it itself)."""
    folder = Path(log_file_dir(task))
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder / "stdout", folder / "stderr"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # one writer per task at a time (the workflow lock), so a fixed name: a killed writer's leftover is reused
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
