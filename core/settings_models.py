"""Typed models of the core's settings and of every plugin's; wrong types fail naming the setting.

Plugins add their models through the ``b2core_settings_models`` hook; the registry below is what
``get_setting`` validates against and what the docs' settings reference is generated from.
"""

from __future__ import annotations

import tempfile
from functools import cache
from typing import Annotated, Any

from b2core.errors import SettingsError
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

EnvValue = str | int | float | bool


class CoreSettings(BaseSettings):
    """Settings every b2core run understands; each may also come from a B2CORE_<NAME> variable."""

    model_config = SettingsConfigDict(env_prefix="B2CORE_", extra="ignore")

    result_dir: str = Field(".", description="Base folder of all outputs; relative paths start at the script's folder.")
    log_dir: str = Field("logs", description="Base folder of the per-task stdout/stderr logs.")
    task_file_dir: str = Field("task_files", description="Base folder of wrapper scripts and submit files.")
    parameter_separator: str = Field("=", description="Separator between parameter name and value in folder names.")
    use_parameter_name_in_output: bool = Field(True, description="False gives folders named by the value only.")
    scratch_dir: str = Field(tempfile.gettempdir(), description="Where on_temporary_files writes before the move.")
    n_download_threads: int | None = Field(
        2, ge=1, description="Parallel copies of inputs into scratch_dir under on_temporary_files; null: one by one."
    )
    batch_system: str = Field("auto", description="Backend for batch mode: an installed backend's name, or auto.")
    auto_fallback_to_local: bool = Field(False, description="Let auto run locally when no batch system is found.")
    shell: str = Field("bash", description="Shell of the job wrapper script.")
    working_dir: str | None = Field(None, description="Folder the job changes into; default: the script's folder.")
    env_script: str = Field("", description="Script sourced by the job wrapper before the task runs.")
    env: dict[str, EnvValue] = Field({}, description="Environment variables the job wrapper exports.")
    executable: list[str] | None = Field(None, description="Python command of the job; default: this interpreter.")
    executable_prefix: list[str] = Field([], description="Command put before the executable (e.g. strace).")
    add_filename_to_cmd: bool = Field(True, description="Pass the script's file name to the executable.")
    task_cmd_additional_args: list[str] = Field(
        [],
        description="Extra arguments appended to the job command; the steering script must then call "
        "process(..., ignore_additional_command_line_args=True), or the job rejects them.",
    )
    job_name: str | None = Field(None, description="Name batch systems show for the job.")
    max_resubmissions: int = Field(0, ge=0, description="How often a failed batch job is submitted again.")
    poll_interval: float = Field(5.0, gt=0, description="Seconds between status queries of a batch system.")
    submit_interval: float = Field(0.5, ge=0, description="Seconds runnable tasks are gathered into one submission.")
    max_array_size: int = Field(1000, ge=1, description="Most tasks put into one job array or submission.")
    cancel_jobs_on_interrupt: bool = Field(True, description="Ctrl-C cancels the run's jobs; False leaves them.")
    batch_command_retries: int = Field(3, ge=0, description="Retries of a failing batch command before giving up.")
    batch_command_retry_wait: float = Field(1.0, ge=0, description="First wait between retries, doubled each time.")
    show_progress: bool | None = Field(None, description="Live progress display; default: on a terminal only.")
    remote_retries: int = Field(3, ge=0, description="Retries of a remote storage operation after a transient error.")
    remote_retry_wait: float = Field(1.0, ge=0, description="First wait between remote retries, doubled each time.")
    remote_verify_checksums: bool = Field(True, description="Compare checksums after each remote transfer.")
    tasks_per_job: int = Field(1, ge=1, description="Runnable tasks with equal job settings packed into one batch job.")
    pack_wait: float = Field(
        2.0, ge=0, description="Seconds a pack that is not full waits for more runnable tasks of its kind."
    )
    cores_per_job: int = Field(1, ge=1, description="How many tasks of a pack its job runs at the same time.")


_models: list[type[BaseModel]] = [CoreSettings]


def register_settings_model(model: type[BaseModel]) -> None:
    """Add a plugin's settings model so its settings are typed and documented."""
    if model not in _models:
        _models.append(model)
        _field_index.cache_clear()


def settings_models() -> list[type[BaseModel]]:
    """Every registered model, the core's first."""
    return list(_models)


@cache
def _field_index() -> dict[str, tuple[type[BaseModel], TypeAdapter[Any], Any]]:
    index: dict[str, tuple[type[BaseModel], TypeAdapter[Any], Any]] = {}
    for model in _models:
        for name, info in model.model_fields.items():
            annotated = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
            index[name] = (model, TypeAdapter(annotated), info)
    return index


def validate_setting(key: str, value: Any, source: str) -> Any:
    """Check a known setting's value against its type; unknown keys are the user's own and pass."""
    entry = _field_index().get(key)
    if entry is None:
        return value
    model, adapter, info = entry
    try:
        checked = adapter.validate_python(value)
    except ValidationError as error:
        problem = "; ".join(e["msg"] for e in error.errors())
        raise SettingsError(
            f"Setting '{key}' from {source} has the wrong type or value {value!r}: {problem} "
            f"(expected {_type_name(info.annotation)}, see {model.__name__})"
        ) from None
    return checked


def known_settings() -> list[str]:
    """Names of every setting some registered model types."""
    return list(_field_index())


def accepts(key: str, value: Any) -> bool:
    """Whether a known setting's type takes this value as it is (unknown settings take anything)."""
    entry = _field_index().get(key)
    if entry is None:
        return True
    try:
        entry[1].validate_python(value, strict=True)
    except ValidationError:
        return False
    return True


def model_default(key: str) -> tuple[bool, Any]:
    """The default a model gives a setting, if it is a known one with a default."""
    entry = _field_index().get(key)
    if entry is None or entry[2].is_required():
        return False, None
    return True, entry[2].get_default(call_default_factory=True)


def _type_name(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def validate_all_sources() -> None:
    """Check every known setting in set_setting, environment and files, so mistakes fail at start."""
    import os

    from b2core import settings

    for key, value in settings.global_settings().items():
        validate_setting(key, value, "set_setting()")
    for key in _field_index():
        env_name = settings.ENV_PREFIX + key.upper()
        if env_name in os.environ:
            value = settings.parse_env_value(key, os.environ[env_name])
            validate_setting(key, value, f"environment variable {env_name}")
    for path, values in settings.iter_settings_files():
        for key, value in values.items():
            validate_setting(key, value, str(path))
        warn_about_typos(values, path)


def warn_about_typos(values: dict[str, Any], path: Any) -> None:
    """Warn (once per run, at start) about names in a settings file that no setting has but b2core would own.

    Such a name is close to a known setting (a typo: did-you-mean) or starts with a prefix b2core or an
    installed plugin owns (`b2core_`, `b2luigi_`, `slurm_`, ...). Other unknown names are the workflow's
    own settings (read with get_setting) and stay silent.
    """
    import difflib
    import logging

    from b2core.settings import RENAMED_SETTINGS

    known = set(_field_index()) | {old for olds in RENAMED_SETTINGS.values() for old in olds}
    logger = logging.getLogger("b2core")
    prefixes = owned_prefixes() if any(key not in known for key in values) else []
    for key in values:
        if key in known:
            continue
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
        owner = next((prefix for prefix in prefixes if key.lower().startswith(prefix)), None)
        if close:
            logger.warning(
                "Unknown setting '%s' in %s: did you mean '%s'? b2core ignores it unless a task reads it",
                key,
                path,
                close[0],
            )
        elif owner:
            logger.warning(
                "Unknown setting '%s' in %s: no setting of b2core or its plugins has this name, though names "
                "starting with '%s' are theirs; b2core ignores it unless a task reads it (give your own settings "
                "another prefix)",
                key,
                path,
                owner,
            )


def owned_prefixes() -> list[str]:
    """Name prefixes of settings that belong to b2core or an installed plugin (`<plugin entry point>_`)."""
    from b2core.plugins import hook_entry_points

    return ["b2core_", "b2luigi_", *(f"{entry_point.name.lower()}_" for entry_point in hook_entry_points())]
