"""Finding plugins: pluggy hooks from ``b2core.plugins``, backends from ``b2core.batch_systems``.

Listing backends reads installed metadata only; a backend's module is imported by stevedore when a
task asks for it. Set B2CORE_DISABLE_PLUGIN_AUTOLOAD=1 to load no third-party hook module: the
hook modules of the project's own distributions (FIRST_PARTY_DISTRIBUTIONS) still load.
"""

from __future__ import annotations

import os
from functools import cache
from importlib import metadata
from typing import Any

import pluggy
from b2core import hookspecs
from b2core.errors import BackendError, PluginError
from b2core.hookspecs import Detection
from b2core.settings_models import register_settings_model
from stevedore import DriverManager

BACKEND_GROUP = "b2core.batch_systems"
HOOK_GROUP = "b2core.plugins"
AUTO = "auto"
AUTOLOAD_ENV = "B2CORE_DISABLE_PLUGIN_AUTOLOAD"
#: distributions made by the b2core project; their hook modules load even with AUTOLOAD_ENV set
FIRST_PARTY_DISTRIBUTIONS = frozenset(
    {
        "b2core-apptainer",
        "b2core-b2luigi",
        "b2core-basf2",
        "b2core-gbasf2",
        "b2core-htcondor",
        "b2core-lsf",
        "b2core-sge",
        "b2core-slurm",
        "b2core-webdav",
        "b2core-xrootd",
    }
)


@cache
def plugin_manager() -> pluggy.PluginManager:
    """The run's plugin manager, with every installed hook module registered and validated."""
    manager = pluggy.PluginManager("b2core")
    manager.add_hookspecs(hookspecs)
    for entry_point in hook_entry_points():
        _register(manager, entry_point)
    for models in manager.hook.b2core_settings_models():
        for model in models or ():
            register_settings_model(model)
    return manager


def run_settings() -> tuple[str, ...]:
    """The settings the installed plugins want read once per worker run (b2core_run_settings)."""
    return tuple(name for names in plugin_manager().hook.b2core_run_settings() for name in names or ())


def hook_entry_points() -> list[metadata.EntryPoint]:
    """The hook modules a run loads: all installed, or only first-party ones with AUTOLOAD_ENV set."""
    found = sorted(metadata.entry_points(group=HOOK_GROUP), key=lambda ep: ep.name)
    if os.environ.get(AUTOLOAD_ENV):
        found = [ep for ep in found if is_first_party(ep)]
    return found


def is_first_party(entry_point: metadata.EntryPoint) -> bool:
    """Whether an entry point comes from one of the project's own distributions."""
    return distribution_of(entry_point)[0].lower().replace("_", "-") in FIRST_PARTY_DISTRIBUTIONS


def _register(manager: pluggy.PluginManager, entry_point: metadata.EntryPoint) -> None:
    """Import and validate one hook module; any failure becomes one PluginError naming the plugin."""
    if manager.get_plugin(entry_point.name) is not None:
        return
    try:
        manager.register(entry_point.load(), name=entry_point.name)
        manager.check_pending()
    except Exception as error:
        dist, version = distribution_of(entry_point)
        raise PluginError(
            f"The hook module {entry_point.value} of {dist} {version} (entry point '{entry_point.name}' in "
            f"{HOOK_GROUP}) is broken: {type(error).__name__}: {error}. Fix the plugin or uninstall it "
            f"(pip uninstall {dist}); `b2core plugins` lists what is installed"
        ) from error


def installed_backends() -> dict[str, metadata.EntryPoint]:
    """Backend name to entry point, from installed metadata, importing nothing."""
    return {ep.name: ep for ep in metadata.entry_points(group=BACKEND_GROUP)}


def distribution_of(entry_point: metadata.EntryPoint) -> tuple[str, str]:
    """(distribution name, version) that provides an entry point, for `b2core plugins`."""
    dist = entry_point.dist
    return (dist.name, dist.version) if dist is not None else ("?", "?")


@cache
def backend_class(name: str) -> type:
    """Import one backend class by its name; unknown names list what is installed and how to add it."""
    if name not in installed_backends():
        raise BackendError(unknown_backend_message(name))
    manager = DriverManager(BACKEND_GROUP, name, invoke_on_load=False)
    cls = manager.driver
    from b2core.batch.backend import BatchBackend

    if not (isinstance(cls, type) and issubclass(cls, BatchBackend)):
        raise BackendError(f"The entry point '{name}' in {BACKEND_GROUP} is not a BatchBackend subclass: {cls!r}")
    if cls.settings_model is not None:
        register_settings_model(cls.settings_model)
    return cls


def unknown_backend_message(name: str) -> str:
    """The error for a batch_system nobody provides."""
    known = ", ".join(sorted(installed_backends())) or "none"
    return (
        f"Unknown batch_system '{name}'. Installed backends: {known} (or 'auto'). "
        f"If '{name}' is a batch system b2core supports, install it with: pip install b2core-{name}"
    )


def detections() -> list[Detection]:
    """Every installed plugin's answer on whether its batch system is usable here, best first."""
    answers = [d for d in plugin_manager().hook.b2core_detect_backend() if d is not None]
    return sorted(answers, key=lambda d: (-d.priority, d.name))


def resolve_auto() -> str:
    """The backend `auto` stands for: the highest-priority available one, or a loud error.

    Decided once per run, failure included, so a batch system that answers only now and then
    cannot send some tasks of a run to it and fail the others.
    """
    name, problem = _auto_outcome()
    if problem is not None:
        raise BackendError(problem)
    return name


@cache
def _auto_outcome() -> tuple[str, str | None]:
    try:
        return _resolve_auto(), None
    except BackendError as error:
        return "", str(error)


resolve_auto.cache_clear = _auto_outcome.cache_clear  # type: ignore[attr-defined]


def _resolve_auto() -> str:
    from b2core.settings import get_setting

    answers = detections()
    for detection in answers:
        if detection.available:
            return detection.name
    checked = "; ".join(f"{d.name}: {d.detail or 'not available'}" for d in answers) or "no batch plugin installed"
    if get_setting("auto_fallback_to_local"):
        import logging

        logging.getLogger("b2core").warning("batch_system=auto found no batch system (%s); running locally", checked)
        return "local"
    raise BackendError(
        f"batch_system = 'auto' found no usable batch system ({checked}). Install a plugin "
        "(e.g. pip install b2core-slurm), set batch_system explicitly, or set auto_fallback_to_local = true."
    )


def all_hook_modules() -> list[tuple[str, Any]]:
    """(name, module) of every registered hook module, for `b2core plugins`."""
    return [(name, plugin) for name, plugin in plugin_manager().list_name_plugin() if name]
