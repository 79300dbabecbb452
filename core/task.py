"""b2luigi's Task API on top of luigi: outputs named by parameters, inputs looked up by file name."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring_ascii as quoted
from operator import attrgetter
from typing import Any

import luigi
from b2core import output_owners, paths
from b2core.output_memo import remembered_target
from b2core.reporter_attributes import ReporterAttribute
from b2core.settings import get_setting
from b2core.staging import active_staging
from b2core.targets import LocalTarget


def flatten_targets(struct: Any) -> Iterator[tuple[str, luigi.Target]]:
    """(key, target) for every target in an input/output structure; keys are add_to_output names."""
    pairs: list[tuple[str, luigi.Target]] = []
    _add_targets(struct, pairs)
    return iter(pairs)


_target_types: dict[type, bool] = {}  # type -> whether it is a luigi.Target (isinstance of an ABC is slow)


def _is_target(value: Any) -> bool:
    """isinstance(value, luigi.Target), answered once per type."""
    is_target = _target_types.get(type(value))
    if is_target is None:
        is_target = _target_types[type(value)] = isinstance(value, luigi.Target)
    return is_target


def _add_targets(struct: Any, pairs: list[tuple[str, luigi.Target]]) -> None:
    """Append what flatten_targets yields for struct; plain calls, no generator per level."""
    if _is_target(struct):
        pairs.append((os.path.basename(getattr(struct, "path", "")), struct))
    elif isinstance(struct, dict):
        for key, value in struct.items():
            if _is_target(value):
                pairs.append((key, value))
            else:
                _add_targets(value, pairs)
    elif struct is not None and not isinstance(struct, str | bytes):
        for item in struct:
            _add_targets(item, pairs)


_kept_whole: dict[type, bool] = {}  # type -> whether luigi's flatten() gives [item] for its instances


def _is_kept_whole(kind: type) -> bool:
    """Strings, and what is neither None nor iterable (tasks, targets): luigi's flatten() keeps it as it is."""
    whole = _kept_whole.get(kind)
    if whole is None:
        iterable = hasattr(kind, "__iter__") or hasattr(kind, "__getitem__")
        whole = _kept_whole[kind] = issubclass(kind, str) or not (iterable or kind is type(None))
    return whole


def flatten(struct: Any) -> list[Any]:
    """luigi.task.flatten(struct), without the failed iter() (a raised TypeError) luigi costs each task and target."""
    if _is_kept_whole(type(struct)):
        return [struct]
    if isinstance(struct, dict):
        items: Any = struct.values()
    elif isinstance(struct, list | tuple | types.GeneratorType):
        items = struct
    else:
        return luigi.task.flatten(struct)
    found = []
    for item in items:
        if _is_kept_whole(type(item)):
            found.append(item)
        else:
            found += flatten(item)
    return found


def _paths_by_name(struct: Any, path_of: Callable[[Any], str] = attrgetter("path")) -> dict[str, list[str]]:
    paths: dict[str, list[str]] = {}
    for key, target in flatten_targets(struct):
        paths.setdefault(os.path.basename(key), []).append(path_of(target))
    return paths


_parameter_generation = [0]  # bumped whenever a class gains a parameter after its creation
_task_id_json = json.JSONEncoder(separators=(",", ":"), sort_keys=True).encode


def luigi_task_id(family: str, str_params: dict[str, str]) -> str:
    """luigi.task.task_id_str's answer (family, first values, md5 of the sorted JSON), at a third of its cost:
    string values are encoded directly, without a new JSON encoder and md5 constructor look-up per task."""
    names = sorted(str_params)
    values = [str_params[name] for name in names]
    if all(type(value) is str for value in values):
        text = "{" + ",".join([f"{quoted(name)}:{quoted(str_params[name])}" for name in names]) + "}"
    else:  # a parameter whose serialize() gives no string: json's own encoding of it
        text = _task_id_json(str_params)
    digest = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
    summary = "_".join(
        [value[: luigi.task.TASK_ID_TRUNCATE_PARAMS] for value in values[: luigi.task.TASK_ID_INCLUDE_PARAMS]]
    )
    summary = luigi.task.TASK_ID_INVALID_CHAR_REGEX.sub("_", summary)
    return f"{family}_{summary}_{digest[: luigi.task.TASK_ID_TRUNCATE_HASH]}"


# (class, keyword arguments as given) -> the instance luigi's instance cache holds for them, valid for
# one luigi cache (cleared with it) and one parameter generation
_by_given_kwargs: dict[tuple[Any, ...], Any] = {}
_by_given_kwargs_for: list[Any] = [None, -1]


class TaskRegister(luigi.task_register.Register):
    """luigi's task metaclass, noticing parameters set on a class later (as inherits does)."""

    def __setattr__(cls, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if isinstance(value, luigi.Parameter):
            _parameter_generation[0] += 1

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        """luigi's cached instance; a new one's parameter values computed once, not twice as in luigi.

        A graph asks requires() several times (scheduling, the run-time check, input()), and luigi
        normalises every parameter value before each cache look-up; a value set by keyword is normalised
        the same way each time, so the instance it gave last time is the one luigi would return.
        """
        cache = cls._Register__instance_cache  # type: ignore[attr-defined]
        if cache is None or args:
            return super().__call__(*args, **kwargs)
        if _by_given_kwargs_for[0] is not cache or _by_given_kwargs_for[1] != _parameter_generation[0]:
            _by_given_kwargs.clear()
            _by_given_kwargs_for[:] = [cache, _parameter_generation[0]]
        given = (cls, *itertools.chain.from_iterable(kwargs.items()))
        try:
            return _by_given_kwargs[given]
        except KeyError:
            pass
        except TypeError:  # an unhashable value: luigi does not cache it either
            return super().__call__(**kwargs)
        params = cls.get_params()
        values = cls.get_param_values(params, (), kwargs)
        key = (cls, tuple(values))  # luigi's instance cache key
        try:
            task = cache.get(key)
        except TypeError:  # a value luigi cannot hash even normalised: a new instance each time, as in luigi
            return super().__call__(**kwargs)
        if task is None:
            if cls.__init__ is Task.__init__ and cls.__new__ is object.__new__:  # set up with the values at hand
                task = cls.__new__(cls)
                task._set_up(values)
            else:  # an __init__ of its own, which calls luigi's (with arguments of its choice)
                task = super(luigi.task_register.Register, cls).__call__(**kwargs)
            cache[key] = task
        if len(kwargs) == len(params):  # no value came from a default or the config, which may change
            _by_given_kwargs[given] = task
        return task


def _keyword_values(cls: Any, params: list[tuple[str, Any]], kwargs: dict[str, Any]) -> list[tuple[str, Any]] | None:
    """luigi's get_param_values for keyword arguments, or None where luigi would warn or raise (it then answers).

    luigi formats an error description on every call; here a task family with a config section of its
    own (luigi warns about options there that no parameter takes), an unknown or missing parameter and
    any error are left to luigi, which then gives its own message.
    """
    family = cls.get_task_family()
    if family in luigi.configuration.get_config().sections():
        return None
    result = []
    used = 0
    try:
        for name, parameter in params:
            if name in kwargs:
                used += 1
                value = parameter.normalize(kwargs[name])
            elif parameter.has_task_value(family, name):
                value = parameter.task_value(family, name)
            else:
                return None
            result.append((name, tuple(value) if isinstance(value, list | set) else value))
    except Exception:
        return None
    return result if used == len(kwargs) else None


class Task(luigi.Task, metaclass=TaskRegister):
    """A luigi Task whose outputs land in <result_dir>/<param>=<value>/... and are written atomically."""

    #: with grouped parameters: how many tasks differing only in them share one batch job
    max_grouping_size: int = 1

    # what luigi's worker forwards to a running task, held outside each instance's __dict__
    set_tracking_url = ReporterAttribute()
    set_status_message = ReporterAttribute()
    set_progress_percentage = ReporterAttribute()
    decrease_running_resources = ReporterAttribute()
    scheduler_messages = ReporterAttribute()

    @classmethod
    def grouped_param_names(cls) -> list[str]:
        """Names of the parameters declared with grouping=True."""
        return [name for name, parameter in cls.get_params() if getattr(parameter, "grouping", False)]

    @classmethod
    def has_grouped_params(cls) -> bool:
        """Whether any parameter is declared with grouping=True."""
        return bool(cls.grouped_param_names())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """luigi's Task.__init__: the same attributes, warnings and task_id, the id built with less overhead."""
        self._set_up(self.get_param_values(self.get_params(), args, kwargs))

    def _set_up(self, values: list[tuple[str, Any]]) -> None:
        """What luigi's __init__ does with the normalised parameter values."""
        for name, value in values:
            setattr(self, name, value)
        self.param_kwargs = dict(values)
        self._warn_on_wrong_param_types()
        self.task_id = luigi_task_id(
            self.get_task_family(), self.to_str_params(only_significant=True, only_public=True)
        )
        self._Task__hash = hash(self.task_id)
        self.set_tracking_url = None
        self.set_status_message = None
        self.set_progress_percentage = None

    @classmethod
    def _class_memo(cls) -> dict[Any, Any]:
        """Facts about this class's parameters, forgotten when any class gains a parameter."""
        memo = cls.__dict__.get("_b2core_memo")
        if memo is None or memo["generation"] != _parameter_generation[0]:
            memo = {"generation": _parameter_generation[0]}
            cls._b2core_memo = memo
        return memo

    @classmethod
    def get_params(cls) -> list[tuple[str, luigi.Parameter]]:
        """luigi walks dir(cls) on each of the many calls per task; a class's parameters rarely change."""
        memo = cls._class_memo()
        params = memo.get("params")
        if params is None:
            params = memo["params"] = super().get_params()
        return list(params)

    def to_str_params(self, only_significant: bool = False, only_public: bool = False) -> dict[str, str]:
        """luigi's {name: serialised value}, the parameters it selects chosen once per class."""
        memo = self._class_memo()
        chosen = memo.get((only_significant, only_public))
        if chosen is None:
            visibility = luigi.parameter.ParameterVisibility
            chosen = memo[(only_significant, only_public)] = [
                (name, parameter)
                for name, parameter in self.get_params()
                if (parameter.significant or not only_significant)
                and (parameter.visibility == visibility.PUBLIC or not only_public)
                and parameter.visibility != visibility.PRIVATE
            ]
        values = self.param_kwargs
        return {name: parameter.serialize(values[name]) for name, parameter in chosen}

    @classmethod
    def get_param_values(
        cls, params: list[tuple[str, luigi.Parameter]], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> list[tuple[str, Any]]:
        """luigi's (name, normalised value) list, cheaper for keyword arguments."""
        values = None if args else _keyword_values(cls, params, kwargs)
        return super().get_param_values(params, args, kwargs) if values is None else values

    def __repr__(self) -> str:
        """luigi's ``Family(param=value, ...)`` without normalising every value again and reading luigi's
        config sections as luigi's does: half the cost of printing 10^5 tasks in --dry-run or --remove."""
        values = self.param_kwargs
        shown = ", ".join(f"{name}={p.serialize(values[name])}" for name, p in self.get_params() if p.significant)
        return f"{self.get_task_family()}({shown})"

    def complete(self) -> bool:
        """luigi's complete() (every output exists), its outputs flattened without luigi's failed iter() each."""
        if _next_complete(type(self)) is not luigi.Task.complete:  # e.g. luigi.WrapperTask's, later in the MRO
            return super().complete()
        outputs = flatten(self.output())
        if not outputs:
            warnings.warn(f"Task {self!r} without outputs has no custom complete() method", stacklevel=2)
            return False
        return all(output.exists() for output in outputs)

    def add_to_output(
        self,
        output_file_name: str,
        target_class: type | None = None,
        result_dir: str | None = None,
        **kwargs: Any,
    ) -> dict[str, luigi.Target]:
        """Declare an output file; use as ``yield self.add_to_output("x.txt")`` in output()."""
        if kwargs:
            target = self._get_output_file_target(output_file_name, target_class, result_dir, **kwargs)
            return {output_file_name: target}
        key = (self.task_id, output_file_name, target_class, result_dir)
        make = functools.partial(self._get_output_file_target, output_file_name, target_class, result_dir)
        return {output_file_name: remembered_target(key, make)}

    def _get_output_file_target(
        self, base_filename: str, target_class: type | None = None, result_dir: str | None = None, **kwargs: Any
    ) -> luigi.Target:
        """The target of one output file of this task (what add_to_output puts under its name)."""
        path = paths.output_file_name(self, base_filename, result_dir=result_dir)
        if output_owners.generation() >= 0:
            output_owners.claim(self.task_id, path)
        return self._resolve_output_file_target(path, target_class, **kwargs)

    def _resolve_output_file_target(self, path: str, target_class: type | None = None, **kwargs: Any) -> luigi.Target:
        """The target for an output path: target_class, else the setting default_task_target_class, else LocalTarget."""
        if target_class is None:
            target_class = get_setting("default_task_target_class", default=LocalTarget, task=self)
            kwargs = {**get_setting("target_class_kwargs", default={}, task=self), **kwargs}
        return target_class(path, **kwargs)

    def get_output_file_name(self, key: str, **tmp_file_kwargs: Any) -> str:
        """The path to write an output to; inside run() a temporary name moved into place on success.

        Under on_temporary_files, tmp_file_kwargs go to tempfile.mkdtemp for the scratch folder.
        """
        target = self._get_output_target(key)
        staging = active_staging(self)
        if staging is None:
            return target.path
        if hasattr(target, "publish"):  # a remote output: written in scratch, published on success
            return staging.path_for(target.path, target, self._scratch_dir(), **tmp_file_kwargs)
        return staging.path_for(target.path, **tmp_file_kwargs)

    def get_all_output_file_names(self) -> Iterator[str]:
        """Every output path of this task."""
        for _, target in flatten_targets(self.output()):
            yield target.path

    def get_input_file_names(self, key: str | None = None) -> dict[str, list[str]] | list[str]:
        """Input paths by output name of the required tasks, or the list for one name."""
        return self._select(self._input_paths_by_name(self.input()), key)

    def get_input_file_names_from_dict(
        self, requirement_key: str, key: str | None = None
    ) -> dict[str, list[str]] | list[str]:
        """Like get_input_file_names, for the requirement named `requirement_key` of a dict requires()."""
        return self._select(self._input_paths_by_name(self.input()[requirement_key]), key)

    def get_input_file_name(self, key: str | None = None) -> str:
        """The single input path for `key` (or the only input); errors when there is not exactly one."""
        by_name = self._input_paths_by_name(self.input())
        candidates = by_name.get(key, []) if key is not None else [p for ps in by_name.values() for p in ps]
        if len(candidates) != 1:
            raise ValueError(f"Task {self.task_id} expected exactly one input for {key!r}, found {len(candidates)}")
        return candidates[0]

    def get_all_input_file_names(self) -> Iterator[str]:
        """Every input path of this task."""
        for named in self._input_paths_by_name(self.input()).values():
            yield from named

    def _input_paths_by_name(self, struct: Any) -> dict[str, list[str]]:
        """Inside on_temporary_files every input is a local copy in scratch, made once per run(), in parallel."""
        staging = active_staging(self)
        if staging is None or not staging.scratch_dir:
            return _paths_by_name(struct)
        pairs = [{key: target} for key, target in flatten_targets(struct)]  # outputs may be one-shot generators
        targets = [target for pair in pairs for target in pair.values()]
        staging.localise_inputs(targets, staging.scratch_dir, get_setting("n_download_threads", task=self))
        return _paths_by_name(pairs, lambda target: staging.input_path(target, staging.scratch_dir, copy_local=True))

    def _scratch_dir(self) -> str:
        return get_setting("scratch_dir", task=self)

    def _select(self, paths: dict[str, list[str]], key: str | None) -> dict[str, list[str]] | list[str]:
        if key is None:
            return paths
        if key not in paths:
            raise KeyError(f"Task {self.task_id} has no input named {key!r}; its inputs are {sorted(paths)}")
        return paths[key]

    def _get_input_targets(self, key: str) -> list[luigi.Target]:
        """The input targets named `key`; KeyError naming the inputs when there is none."""
        targets = [target for name, target in flatten_targets(self.input()) if os.path.basename(name) == key]
        if not targets:
            names = sorted({os.path.basename(name) for name, _ in flatten_targets(self.input())})
            raise KeyError(f"Task {self.task_id} has no input named {key!r}; its inputs are {names}")
        return targets

    def _get_output_target(self, key: str) -> luigi.Target:
        staging = active_staging(self)
        if staging is not None:  # inside run(): output() is built once, so n outputs cost O(n), not O(n^2)
            if staging.output_index is None:
                staging.output_index = {}
                for name, target in flatten_targets(self.output()):
                    staging.output_index.setdefault(name, target)
            if key in staging.output_index:
                return staging.output_index[key]
        else:
            for name, target in flatten_targets(self.output()):
                if name == key:
                    return target
        raise KeyError(f"Task {self.task_id} has no output named {key!r}; declare it with add_to_output")

    def _remove_output(self, target_class: type | None = None, result_dir: str | None = None, **kwargs: Any) -> None:
        """Delete every output of this task, for remove_output(); a failing removal is reported, the rest go on.

        target_class and kwargs build the target each output path is removed through (as b2luigi's do);
        result_dir is accepted for b2luigi's signature: the paths are those output() declares.
        """
        for _, target in flatten_targets(self.output()):
            if target_class is not None:
                target = self._resolve_output_file_target(target.path, target_class, **kwargs)
            try:
                if target.exists():
                    target.remove()
            except Exception as error:
                print(f"Could not remove output {getattr(target, 'path', target)} of {self}: {error}", file=sys.stderr)


def _next_complete(cls: type) -> Any:
    """The complete() that follows b2core's Task.complete in a class's MRO."""
    return super(Task, cls).complete


class ExternalTask(Task, luigi.ExternalTask):
    """An output produced outside the workflow, with b2core's output naming."""


class WrapperTask(Task, luigi.WrapperTask):
    """A task that only groups requirements; complete when they are."""


class NotCompletedTask(Task):
    """A task that is complete only when its requirements are too (unless check_complete is False)."""

    check_complete = True

    def complete(self) -> bool:
        """Own outputs exist and, with check_complete, every requirement is complete."""
        if not super().complete():
            return False
        return not self.check_complete or all(task.complete() for task in luigi.task.flatten(self.requires()))
