"""Building the ``apptainer exec`` command that wraps one task's job command."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from typing import Any

from b2core.errors import SettingsError
from b2core.hookspecs import JobCommand
from b2core.paths import log_file_dir, map_folder, task_file_dir
from b2core.settings import get_setting, task_defines
from b2core.settings_models import register_settings_model

from b2core_apptainer.settings import ApptainerSettings

register_settings_model(ApptainerSettings)  # typed defaults even when used outside a run (tests, tools)

#: settings that only make sense together with an image; a task defining one of them asks for Apptainer
COMPANION_SETTINGS = ("apptainer_mounts", "apptainer_mount_defaults", "apptainer_additional_params", "apptainer_cmd")
#: image references that are not paths on this file system (no existence check for them)
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def uses_apptainer(task: Any) -> bool:
    """Whether a task's job runs in a container; a task that sets apptainer options without an image is an error."""
    if get_setting("apptainer_image", task=task):
        return True
    asked = [key for key in COMPANION_SETTINGS if task_defines(task, key)]
    if asked:
        raise SettingsError(
            f"Task {task.task_id} sets {', '.join(asked)} but no apptainer_image, so it cannot run in a container. "
            "Set apptainer_image (e.g. apptainer_image = '/cvmfs/belle.cern.ch/images/belle2-base-el9') "
            "or remove the apptainer_* settings from the task."
        )
    return False


def refuse_gbasf2(task: Any) -> None:
    """Grid jobs run basf2 on the grid, not our wrapper: a container there is a configuration mistake."""
    if get_setting("batch_system", task=task) == "gbasf2":
        raise SettingsError(
            f"Task {task.task_id} has apptainer_image set but runs with batch_system = 'gbasf2': grid jobs are not "
            "run through the job wrapper, so they cannot run in an Apptainer container. Remove apptainer_image "
            "from this task (or choose another batch_system)."
        )


def container_command(task: Any) -> str:
    """apptainer_cmd, else `apptainer`, else `singularity`, whichever is on PATH."""
    configured = get_setting("apptainer_cmd", task=task)
    if configured:
        return configured
    for candidate in ("apptainer", "singularity"):
        if shutil.which(candidate):
            return candidate
    raise SettingsError(
        f"Task {task.task_id} needs Apptainer (apptainer_image = {get_setting('apptainer_image', task=task)!r}), "
        "but neither `apptainer` nor `singularity` is on PATH. Install Apptainer or set apptainer_cmd."
    )


def additional_params(task: Any) -> list[str]:
    """apptainer_additional_params as words: a string is split like a shell would, a list is taken as is."""
    value = get_setting("apptainer_additional_params", task=task)
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as error:
            raise SettingsError(
                f"Setting 'apptainer_additional_params' of task {task.task_id} is not valid shell syntax: {error}"
            ) from None
    return [str(word) for word in value]


def default_mounts(task: Any) -> list[str]:
    """result_dir, log_dir and task_file_dir (and the task's own folders if it moved them), created first."""
    folders = [
        map_folder(get_setting("result_dir", task=task)),
        map_folder(get_setting("log_dir", task=task, deprecated_keys=["log_folder"])),
        map_folder(get_setting("task_file_dir", task=task)),
        log_file_dir(task),
        task_file_dir(task),
    ]
    mounts: list[str] = []
    for folder in folders:
        folder = os.path.normpath(folder)
        if any(folder == m or folder.startswith(m.rstrip(os.sep) + os.sep) for m in mounts):
            continue
        os.makedirs(folder, exist_ok=True)
        mounts.append(folder)
    return mounts


def bind_list(task: Any) -> list[str]:
    """Every --bind value, user mounts first, without duplicates."""
    binds = [str(m) for m in get_setting("apptainer_mounts", task=task)]
    if get_setting("apptainer_mount_defaults", task=task):
        binds += default_mounts(task)
    return list(dict.fromkeys(binds))


def apptainer_command(task: Any, command: JobCommand) -> JobCommand:
    """`apptainer exec [params] --bind ... <image> /bin/bash -c '[source env_script &&] exec <command>'`."""
    from b2core.batch.wrapper import shell_words

    image = get_setting("apptainer_image", task=task)
    inner = "exec " + shell_words(command)
    if command.env_script:
        inner = f"source {shlex.quote(command.env_script)} && {inner}"
    argv = [container_command(task), "exec", *additional_params(task)]
    for bind in bind_list(task):
        argv += ["--bind", bind]
    argv += [image, "/bin/bash", "-c", inner]
    notes = [*command.notes, f"echo {shlex.quote('Will now execute the program with the image ' + image)}"]
    if not _URI.match(image):
        missing = f"b2core-apptainer: apptainer_image {image} does not exist on this host"
        notes.append(f'[ -e {shlex.quote(image)} ] || {{ echo {shlex.quote(missing)}": $(hostname)" >&2; exit 2; }}')
    return JobCommand(argv=argv, env_script="", expandable=1, notes=notes)
