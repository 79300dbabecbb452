"""The settings hierarchy: task attribute, set_setting, environment, settings.json, user config, defaults.

Lookups are hot (every output path asks for ``result_dir``), so settings files are parsed once and
re-read only when they change. Each lookup that reaches the files asks a watch on the folders of
the search path (b2core.settings_watch) whether a settings file appeared, changed or went away:
a new or edited settings.json is seen by the very next get_setting call.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from b2core.errors import SettingsError
from b2core.settings_watch import SettingsWatch, settled, signature

_NO_DEFAULT: Any = object()
_global_settings: dict[str, Any] = {}
_file_cache: dict[Path, tuple[Any, dict[str, Any] | None]] = {}  # path: (signature, values)
_paths_cache: dict[tuple[str | None, str], list[Path]] = {}
# per (named file, cwd): the watch that tells when to read again (None: at every lookup), and the existing files
_files_snapshot: dict[tuple[str | None, str], tuple[SettingsWatch | None, list[tuple[Path, dict[str, Any]]]]] = {}
_cache_lock = threading.Lock()
# inside fixed_settings(): answers for tasks that do not set the key themselves, the keys it answers
# (None: every key), and task_defines per class
_fixed: dict[tuple[str, ...], tuple[str, Any]] | None = None
_fixed_keys: frozenset[str] | None = None
_fixed_classes: dict[tuple[type, tuple[str, ...]], bool] = {}
_IMMUTABLE = (str, int, float, bool, type(None), tuple, frozenset, type)
# outside fixed_settings(): per names, the answer for tasks that do not set them, with what it came from
# (settings files read, set_setting layer, B2CORE_ variables); reused while all three are the same
_answers: dict[tuple[str, ...], tuple[Any, dict[str, Any], tuple[str | None, ...], tuple[str, Any]]] = {}

SETTINGS_FILE_NAME = "settings.json"
SETTINGS_FILE_ENV = "B2CORE_SETTINGS_JSON"
LEGACY_SETTINGS_FILE_ENV = "B2LUIGI_SETTINGS_JSON"
ENV_PREFIX = "B2CORE_"
# b2luigi's old names, still read (with a warning) wherever the new name is asked for
RENAMED_SETTINGS: dict[str, tuple[str, ...]] = {"result_dir": ("result_path",), "log_dir": ("log_folder",)}


class DeprecatedSettingsWarning(UserWarning):
    """Warns that a setting was found under a name that is being phased out; a UserWarning, so Python
    shows it by default (a DeprecationWarning raised inside b2core would be hidden from users)."""


def set_setting(key: str, value: Any) -> None:
    """Set a setting for the whole process, below task attributes and above every file."""
    from b2core.settings_models import validate_setting

    validate_setting(key, value, source="set_setting()")
    _global_settings[key] = value
    _answers.clear()
    if _fixed is not None:
        _fixed.clear()


def clear_setting(key: str) -> None:
    """Remove a setting given with set_setting; missing keys are fine."""
    _global_settings.pop(key, None)
    _answers.clear()
    if _fixed is not None:
        _fixed.clear()


@contextmanager
def fixed_settings(keys: Iterable[str] | None = None) -> Iterator[None]:
    """Resolve a setting once for 10^5 tasks: inside the block get_setting answers each setting (or each of
    `keys`) once for all tasks that do not set it themselves, so a settings file edited meanwhile applies
    to the next command (read-only walks fix every key, a worker run the keys that name outputs); task
    attributes and properties are still asked per task, and set_setting applies at once."""
    global _fixed, _fixed_keys
    wanted = None if keys is None else frozenset(keys)
    outer = _fixed_keys
    if _fixed is not None and (outer is None or (wanted is not None and wanted <= outer)):
        yield  # the enclosing block fixes these already
        return
    inside = _fixed is not None
    if inside and outer is not None:  # fixing fewer keys: this block widens it, sharing its answers
        _fixed_keys = None if wanted is None else wanted | outer
    else:
        _fixed, _fixed_keys = {}, wanted
    try:
        yield
    finally:
        if inside and outer is not None and _fixed is not None:  # the answers of the widened keys go
            _fixed_keys = outer
            for names in [names for names in _fixed if names[0] not in outer]:
                del _fixed[names]
        else:
            _fixed = _fixed_keys = None
            _fixed_classes.clear()


def get_setting(
    key: str,
    default: Any = _NO_DEFAULT,
    task: Any = None,
    deprecated_keys: Iterable[str] | None = None,
) -> Any:
    """Resolve one setting, first hit wins: task, set_setting, B2CORE_ env, settings.json, user config.

    As in b2luigi, no default (or ``default=None``) means the setting is required, unless a typed
    core or plugin setting model gives it a default.
    """
    names = (key, *(deprecated_keys or ()), *RENAMED_SETTINGS.get(key, ()))
    fixed = _fixed if _fixed_keys is None or key in _fixed_keys else None  # None outside fixed_settings()
    if fixed is not None and (task is None or not _sets_any(task, names)):
        answer = fixed.get(names)
        if answer is None:
            answer = _resolve(key, names, None)
            if isinstance(answer[1], _IMMUTABLE):  # a dict or list is validated afresh: callers may change it
                fixed[names] = answer
    elif task is None or not _task_sets_any(task, names):
        answer = _global_answer(key, names)
    else:
        answer = _resolve(key, names, task)
    kind, value = answer
    if kind == "found":
        return value
    if default is not _NO_DEFAULT and default is not None:
        return default
    if kind == "model default":
        return value
    raise SettingsError(f"No settings found for {key}!" + (f" (task {task})" if task is not None else ""))


def _resolve(key: str, names: tuple[str, ...], task: Any) -> tuple[str, Any]:
    """("found", value), else ("model default", value) or ("none", None): what get_setting answers from."""
    for name in names:
        found, value, source = _lookup(name, task)
        if found:
            if name != key:
                warnings.warn(
                    f"The setting '{name}' is deprecated, use '{key}' instead.",
                    DeprecatedSettingsWarning,
                    stacklevel=3,
                )
            from b2core.settings_models import validate_setting

            return "found", validate_setting(key, value, source=source)
    from b2core.settings_models import model_default

    has_default, value = model_default(key)
    return ("model default", value) if has_default else ("none", None)


def _global_answer(key: str, names: tuple[str, ...]) -> tuple[str, Any]:
    """_resolve for no task, reused while no layer it reads from changed (a lookup then costs a few us, not 20)."""
    files = _current_files()
    env = tuple(os.environ.get(ENV_PREFIX + name.upper()) for name in names)
    cached = _answers.get(names)
    if cached is not None and cached[0] is files and cached[1] is _global_settings and cached[2] == env:
        return cached[3]
    answer = _resolve(key, names, None)
    if isinstance(answer[1], _IMMUTABLE):  # a dict or list is validated afresh: callers may change it
        _answers[names] = (files, _global_settings, env, answer)
    return answer


def get_merged_dict(key: str, task: Any = None) -> dict[str, Any]:
    """A dict setting as the global value updated by the task's own; always a new dict, never shared.

    Used for per-system options (slurm_settings, htcondor_settings) where a task adds to the
    site-wide options instead of replacing them.
    """
    from b2core.settings_models import validate_setting

    found, value, source = _lookup(key, None)
    merged = dict(validate_setting(key, value, source) or {}) if found else {}
    if task is not None and task_defines(task, key):
        own = getattr(task, key)
        merged.update(validate_setting(key, own, f"attribute '{key}' of task {type(task).__name__}") or {})
    return merged


def find_setting_source(key: str, task: Any = None) -> str | None:
    """Name where a setting comes from, for error messages and `b2core status`."""
    found, _, source = _lookup(key, task)
    return source if found else None


def check_given_setting(key: str, check: Callable[[Any, str], object], *read_with: str) -> None:
    """check(value, "From <source>") when a settings file, variable or set_setting gives the global setting
    key (or one of read_with, which the check reads too): a backend's check_settings then fails once at
    start naming where the mistake is; values left at their defaults are not checked."""
    for name in (key, *read_with):
        source = find_setting_source(name)
        if source is not None:
            check(get_setting(key), f"From {source}")
            return


def _lookup(key: str, task: Any) -> tuple[bool, Any, str]:
    if task is not None and task_defines(task, key):
        return True, getattr(task, key), f"attribute '{key}' of task {type(task).__name__}"
    if key in _global_settings:
        return True, _global_settings[key], "set_setting()"
    env_name = ENV_PREFIX + key.upper()
    if env_name in os.environ:
        return True, parse_env_value(key, os.environ[env_name]), f"environment variable {env_name}"
    for path, values in iter_settings_files():
        if key in values:
            return True, values[key], str(path)
    return False, None, ""


def task_defines(task: Any, key: str) -> bool:
    """Whether a task (instance or class) has its own value for a setting, which then wins."""
    if key in getattr(task, "__dict__", {}):
        return True
    return any(key in klass.__dict__ for klass in type(task).__mro__)


def _task_sets_any(task: Any, names: tuple[str, ...]) -> bool:
    """Whether a task (instance or class, asked afresh: classes may change) sets one of these names itself."""
    return any(task_defines(task, name) for name in names)


def _sets_any(task: Any, names: tuple[str, ...]) -> bool:
    """Whether a task sets one of these names itself; inside fixed_settings() the class part is asked once."""
    own = getattr(task, "__dict__", {})
    for name in names:  # a loop, not any(): this runs 10^5 times per walk
        if name in own:
            return True
    defined = _fixed_classes.get((type(task), names))
    if defined is None:
        mro = type(task).__mro__
        defined = _fixed_classes[(type(task), names)] = any(name in k.__dict__ for k in mro for name in names)
    return defined


def parse_env_value(key: str, raw: str) -> Any:
    """Let environment variables carry JSON (lists, dicts, numbers), else take the plain string; a
    string-typed setting takes the raw text even when it parses as JSON (B2CORE_JOB_NAME=2024)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if isinstance(value, str):
        return value
    from b2core.settings_models import accepts

    return raw if accepts(key, raw) and not accepts(key, value) else value


def named_settings_file() -> tuple[str, str] | None:
    """(variable, path) of the one settings file B2CORE_SETTINGS_JSON or b2luigi's B2LUIGI_SETTINGS_JSON names."""
    for variable in (SETTINGS_FILE_ENV, LEGACY_SETTINGS_FILE_ENV):
        if os.environ.get(variable):
            return variable, os.environ[variable]
    return None


def settings_file_paths() -> list[Path]:
    """All settings files in precedence order: the named file or cwd upwards, then the user config."""
    named = (named_settings_file() or ("", None))[1]
    key = (named, os.getcwd())
    if key not in _paths_cache:
        _paths_cache[key] = _settings_file_paths(named)
    return _paths_cache[key]


def _settings_file_paths(named: str | None) -> list[Path]:
    paths: list[Path] = []
    if named:
        paths.append(Path(named))
    else:
        folder = Path.cwd()
        while True:
            paths.append(folder / SETTINGS_FILE_NAME)
            if folder.parent == folder:
                break
            folder = folder.parent
    paths.append(user_settings_path())
    return paths


def user_settings_path() -> Path:
    """The per-user settings file, in the platform's config folder."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("b2core")) / SETTINGS_FILE_NAME


def forget_settings_files() -> None:
    """Drop what was read from settings files, so the next lookup reads them again (tests, new folders)."""
    with _cache_lock:
        _paths_cache.clear()
        _file_cache.clear()
        _close_watches()
        _files_snapshot.clear()


def iter_settings_files() -> Iterator[tuple[Path, dict[str, Any]]]:
    """Yield every existing settings file with its parsed content, nearest first."""
    yield from _current_files()


def _current_files() -> list[tuple[Path, dict[str, Any]]]:
    """The settings files with their content: the same list object until one of them may have changed."""
    variable, named = named_settings_file() or ("", None)
    key = (named, os.getcwd())
    snapshot = _files_snapshot.get(key)
    if snapshot is None or snapshot[0] is None or snapshot[0].changed():
        _close_watches()  # one watch per process: a snapshot of another folder re-reads when next used
        paths = settings_file_paths()
        watch = SettingsWatch(paths)  # before reading: a change while reading shows at the next lookup
        files = [(path, values) for path in paths if (values := _read_settings_file(path)) is not None]
        if named and not any(path == Path(named) for path, _ in files):
            watch.close()
            raise SettingsError(f"The settings file named by {variable} does not exist: {named}")
        if not watch.trustworthy():
            watch.close()
            watch = None
        snapshot = _files_snapshot[key] = (watch, files)
    return snapshot[1]


def _close_watches() -> None:
    for other, (watch, files) in list(_files_snapshot.items()):
        if watch is not None:
            watch.close()
            _files_snapshot[other] = (None, files)


def _read_settings_file(path: Path) -> dict[str, Any] | None:
    """Parse a settings file, or reuse the last parse while its signature is unchanged (and not too fresh)."""
    sig = signature(path)
    with _cache_lock:
        cached = _file_cache.get(path)
    if cached and cached[0] == sig and settled(sig):
        return cached[1]
    values = None if sig is None else _parse_settings_file(path)
    with _cache_lock:
        _file_cache[path] = (sig, values)
    return values


def _parse_settings_file(path: Path) -> dict[str, Any]:
    try:
        values = json.loads(path.read_text())
    except IsADirectoryError:
        raise SettingsError(f"The settings file {path} is a directory; remove or rename it") from None
    except OSError as error:
        raise SettingsError(
            f"The settings file {path} cannot be read ({error.strerror}); make it readable or remove it"
        ) from None
    except ValueError as error:
        raise SettingsError(f"The settings file {path} is not valid JSON: {error}") from error
    if not isinstance(values, dict):
        raise SettingsError(f"The settings file {path} must hold a JSON object, not {type(values).__name__}")
    return values


@contextmanager
def with_new_settings() -> Iterator[None]:
    """Run a block with an empty set_setting layer, restoring the old one afterwards (for tests)."""
    global _global_settings
    saved = _global_settings
    _global_settings = {}
    try:
        yield
    finally:
        _global_settings = saved


def global_settings() -> dict[str, Any]:
    """The set_setting layer, read-only by convention; used to ship settings into batch jobs."""
    return dict(_global_settings)
