"""A gbasf2 project from a task: its unique name, its steering files and the gbasf2 submit command."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import shlex
import shutil
import string
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

from b2core.errors import SettingsError
from b2core.paths import map_folder
from b2core.settings import get_setting
from b2core.settings_models import register_settings_model
from b2core_basf2.utils import basf2_release as release_set_up_here

from b2core_gbasf2.settings import Gbasf2Settings

register_settings_model(Gbasf2Settings)  # typed defaults also when used before a run starts (output())
logger = logging.getLogger("b2core.gbasf2")

MAX_PROJECT_NAME_LENGTH = 32
PROJECT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]*$")
PICKLE_FILE_NAME = "serialized_basf2_path.pkl"
STEERING_WRAPPER_NAME = "steering_file_wrapper.py"


def get_unique_project_name(task: Any) -> str:
    """gbasf2_project_name_prefix + the first characters of md5(task id): one project per task, at most 32 chars."""
    prefix = get_setting("gbasf2_project_name_prefix", default="", task=task)
    if not prefix:
        raise SettingsError(
            f"Task {task.task_id} needs the setting gbasf2_project_name_prefix, the start of its gbasf2 project "
            "name (e.g. gbasf2_project_name_prefix = b2luigi.Parameter(significant=False))."
        )
    hash_length = get_setting("gbasf2_project_name_hash_length", task=task)
    check_project_name_prefix(prefix, hash_length, f"Task {task.task_id}")
    return prefix + hashlib.md5(task.task_id.encode(), usedforsecurity=False).hexdigest()[:hash_length]


def check_project_name_prefix(prefix: str, hash_length: int, owner: str) -> None:
    """A prefix that, with the hash appended, makes a valid gbasf2 project name; owner starts each error."""
    if not 6 <= hash_length <= 10:
        raise SettingsError(f"{owner}: gbasf2_project_name_hash_length must be between 6 and 10, got {hash_length}")
    if not PROJECT_NAME_PATTERN.match(prefix):
        bad = sorted(set(re.sub(r"[a-zA-Z0-9_-]", "", prefix)))
        raise SettingsError(
            f"{owner}: gbasf2_project_name_prefix {prefix!r} contains {''.join(bad)!r}; gbasf2 project "
            "names may only contain letters, digits, '_' and '-'."
        )
    if len(prefix) + hash_length > MAX_PROJECT_NAME_LENGTH:
        raise SettingsError(
            f"{owner}: the gbasf2 project names would have {len(prefix) + hash_length} characters, but gbasf2 allows "
            f"at most {MAX_PROJECT_NAME_LENGTH}: shorten gbasf2_project_name_prefix {prefix!r} to at most "
            f"{MAX_PROJECT_NAME_LENGTH - hash_length} characters (the {hash_length}-character hash of the task id "
            "is appended; gbasf2_project_name_hash_length can go down to 6)."
        )


def input_options(task: Any) -> list[str]:
    """-i <datasets> or --input_dslist <absolute file>; at most one of them (generation jobs need neither)."""
    dataset = get_setting("gbasf2_input_dataset", default="", task=task)
    dslist = get_setting("gbasf2_input_dslist", default="", task=task)
    if dataset and dslist:
        raise SettingsError(
            f"Task {task.task_id} sets both gbasf2_input_dataset and gbasf2_input_dslist; use one of them."
        )
    if dataset:
        if any(c.isspace() for c in dataset):
            raise SettingsError(
                f"gbasf2_input_dataset of task {task.task_id} contains white space; separate several datasets "
                f"with commas only: {dataset!r}"
            )
        return ["-i", dataset]
    if dslist:
        path = map_folder(dslist)
        if not os.path.isfile(path):
            raise SettingsError(f"gbasf2_input_dslist of task {task.task_id} names a missing file: {path}")
        return ["--input_dslist", path]
    if not get_setting("gbasf2_input_datafiles", task=task) and not get_setting("gbasf2_n_repition_job", task=task):
        raise SettingsError(
            f"Task {task.task_id} has no grid input: set gbasf2_input_dataset (comma-separated LPNs) or "
            "gbasf2_input_dslist (a file with one LPN per line), or gbasf2_n_repition_job for jobs without input."
        )
    return []


def basf2_release(task: Any) -> str:
    """gbasf2_release, else the release set up here ($BELLE2_RELEASE, else basf2.version)."""
    release = get_setting("gbasf2_release", default="", task=task) or release_set_up_here()
    if not release:
        raise SettingsError(
            f"Task {task.task_id}: no basf2 release is set up here (no BELLE2_RELEASE, no basf2 module); set "
            "gbasf2_release to the release the grid jobs should use."
        )
    return release


def sandbox_files(task: Any) -> list[str]:
    """gbasf2_additional_files, local ones made absolute and checked (LFNs with gbasf2_lfn_sandboxfiles)."""
    files = [str(f) for f in get_setting("gbasf2_additional_files", task=task)]
    if get_setting("gbasf2_lfn_sandboxfiles", task=task):
        return files
    absolute = []
    for name in files:
        path = map_folder(name)
        if not os.path.exists(path):
            raise SettingsError(f"gbasf2_additional_files of task {task.task_id} names a missing file: {path}")
        absolute.append(path)
    return absolute


def submit_command(
    task: Any, project_name: str, steering_file: str, files: list[str], output_ds: str | None = None
) -> list[str]:
    """The whole gbasf2 command line of one project, every documented pass-through option included."""
    argv = ["gbasf2", steering_file, "-p", project_name, "-s", basf2_release(task)]
    if files:
        argv += ["-f", *files]
    if get_setting("gbasf2_lfn_sandboxfiles", task=task):
        argv.append("--lfn_sandboxfiles")
    if get_setting("gbasf2_noscout", task=task):
        argv.append("--noscout")
    argv += input_options(task)
    repetition = get_setting("gbasf2_n_repition_job", task=task)
    if repetition:
        argv += ["--repetition", str(repetition)]
    datafiles = [str(f) for f in get_setting("gbasf2_input_datafiles", task=task)]
    if datafiles:
        argv += ["--input_datafiles", *datafiles]
    if get_setting("gbasf2_force_submission", task=task):
        argv.append("--force")
    for key, option in (("gbasf2_cputime", "--cputime"), ("gbasf2_evtpersec", "--evtpersec")):
        value = get_setting(key, task=task)
        if value is not None:
            argv += [option, str(value)]
    priority = get_setting("gbasf2_priority", task=task)
    if priority is not None:
        if not 0 <= priority <= 10:
            raise SettingsError(f"gbasf2_priority of task {task.task_id} must be between 0 and 10, got {priority}")
        argv += ["--priority", str(priority)]
    jobtype = get_setting("gbasf2_jobtype", task=task)
    if jobtype:
        argv += ["--jobtype", jobtype]
    basf2opt = get_setting("gbasf2_basf2opt", task=task)
    if basf2opt:
        argv.append(f"--basf2opt={basf2opt}")
    grouping = get_setting("gbasf2_input_grouping", task=task)
    if grouping:
        argv += ["--input_grouping", grouping]
    if output_ds:
        argv += ["--output_ds", output_ds]
    try:
        argv += shlex.split(get_setting("gbasf2_additional_params", task=task))
    except ValueError as error:
        raise SettingsError(
            f"gbasf2_additional_params of task {task.task_id} is not valid shell syntax: {error}"
        ) from None
    return argv


# --- the steering files --------------------------------------------------------------------------


def render_steering_wrapper(task: Any, pickle_file_name: str = PICKLE_FILE_NAME) -> str:
    """The steering file that runs the pickled path: the built-in template, or gbasf2_jinja_template_path."""
    values = {"pickle_file_path": pickle_file_name, "max_event": int(get_setting("max_event", task=task))}
    custom = get_setting("gbasf2_jinja_template_path", default="", task=task)
    if not custom:
        text = resources.files("b2core_gbasf2").joinpath("templates/steering_file_wrapper.py.tmpl").read_text()
        return string.Template(text).substitute(values)
    path = Path(map_folder(custom))
    if not path.is_file():
        raise SettingsError(f"gbasf2_jinja_template_path of task {task.task_id} names a missing file: {path}")
    text = path.read_text()
    try:
        import jinja2
    except ImportError:
        jinja2 = None
    if jinja2 is not None:
        return jinja2.Template(text, keep_trailing_newline=True).render(**values)
    warnings.warn(
        f"jinja2 is not installed, so the steering template {path} is rendered with Python's string.Template "
        "($pickle_file_path, $max_event). Install jinja2 to use Jinja syntax.",
        stacklevel=2,
    )
    rendered = string.Template(text).safe_substitute(values)
    if "{{" in rendered or "{%" in rendered:
        raise SettingsError(
            f"The steering template {path} uses Jinja syntax ({{{{ ... }}}}), but jinja2 is not installed: "
            "pip install jinja2, or write the template with $pickle_file_path and $max_event."
        )
    return rendered


def pickle_basf2_path(task: Any, destination: Path) -> None:
    """Pickle create_path()'s path with the variable aliases, global tags and log level it set up."""
    if not hasattr(task, "create_path"):
        raise SettingsError(
            f"Task {task.task_id} runs on gbasf2 but has no create_path() returning a basf2 path; derive it from "
            "b2core_basf2.Basf2PathTask or set gbasf2_custom_steering_file."
        )
    import basf2
    from basf2 import pickle_path

    path = task.create_path()
    state = pickle_path.serialize_path(path)
    state["aliases"] = variable_aliases()
    state["globaltags"] = list(basf2.conditions.globaltags)
    level = getattr(basf2.logging, "log_level", None)
    state["log_level"] = getattr(level, "name", None)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(destination.name + ".tmp")
    with open(temporary, "wb") as handle:
        pickle.dump(state, handle)
    os.replace(temporary, destination)


def variable_aliases() -> dict[str, str]:
    """Every alias of basf2's variable manager, resolved to its variable name."""
    try:
        from variables import variables as variable_manager
    except ImportError:
        return {}
    return {str(name): variable_manager.getVariable(name).name for name in variable_manager.getAliasNames()}


def prepare_steering(task: Any, folder: Path) -> tuple[str, list[str]]:
    """Write what the project needs into `folder`: (steering file, sandbox files besides the extra ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    custom = get_setting("gbasf2_custom_steering_file", default="", task=task)
    if custom:
        source = Path(map_folder(custom))
        if not source.is_file():
            raise SettingsError(f"gbasf2_custom_steering_file of task {task.task_id} names a missing file: {source}")
        copy = folder / source.name
        shutil.copy2(source, copy)
        return str(copy), []
    pickle_file = folder / PICKLE_FILE_NAME
    pickle_basf2_path(task, pickle_file)
    wrapper = folder / STEERING_WRAPPER_NAME
    wrapper.write_text(render_steering_wrapper(task, PICKLE_FILE_NAME))
    return str(wrapper), [str(pickle_file)]
