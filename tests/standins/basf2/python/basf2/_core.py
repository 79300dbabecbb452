"""Core objects of the stand-in ``basf2``: modules, paths, processing.

This is not basf2. It models only what b2core needs to build, pickle, restore
and "process" a path: module types and parameters, sub-paths and conditions,
the log level, global tags and variable aliases. ``process()`` writes small
ROOT files for every output module (see ``_rootfile``).
"""

from __future__ import annotations

import enum
import os
import sys
import time
from typing import Any

from . import _rootfile

#: module type -> (file name parameter, default file name, default tree name)
OUTPUT_MODULES: dict[str, tuple[str, str, str | None]] = {
    "RootOutput": ("outputFileName", "RootOutput.root", "tree"),
    "VariablesToNtuple": ("fileName", "VariablesToNtuple.root", "variables"),
    "VariablesToEventBasedTree": ("fileName", "VariablesToEventBasedTree.root", "tree"),
    "VariablesToHistogram": ("fileName", "VariablesToHistogram.root", None),
    "VariablesToTree": ("fileName", "VariablesToTree.root", "tree"),
    "HistoManager": ("histoFileName", "histofile.root", None),
}

DEFAULT_EVENTS = 10


class LogLevel(enum.IntEnum):
    DEBUG = 0
    INFO = 1
    RESULT = 2
    WARNING = 3
    ERROR = 4
    FATAL = 5
    default = 6


class _LogConfig:
    """Stand-in for ``basf2.logging`` (only the global log level)."""

    def __init__(self) -> None:
        self.log_level = LogLevel.INFO
        self.debug_level = 100

    def reset(self) -> None:
        self.log_level = LogLevel.INFO


logging = _LogConfig()


def set_log_level(level: LogLevel | int) -> None:
    logging.log_level = LogLevel(int(level))


def B2INFO(*args: Any) -> None:
    if logging.log_level <= LogLevel.INFO:
        print("[INFO]", *args)


def B2WARNING(*args: Any) -> None:
    if logging.log_level <= LogLevel.WARNING:
        print("[WARNING]", *args)


def B2ERROR(*args: Any) -> None:
    print("[ERROR]", *args, file=sys.stderr)


def B2FATAL(*args: Any) -> None:
    print("[FATAL]", *args, file=sys.stderr)
    raise SystemExit(1)


class _Conditions:
    """Stand-in for ``basf2.conditions``: just the list of global tags."""

    def __init__(self) -> None:
        self.globaltags: list[str] = []
        self.default_globaltags = ["main_standin"]

    def prepend_globaltag(self, tag: str) -> None:
        self.globaltags.insert(0, tag)

    def append_globaltag(self, tag: str) -> None:
        self.globaltags.append(tag)

    def override_globaltags(self, tags: list[str] | None = None) -> None:
        self.globaltags = list(tags or [])

    def reset(self) -> None:
        self.globaltags = []


conditions = _Conditions()


class ModuleParamInfo:
    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self.values = value
        self.default = None
        self.type = type(value).__name__
        self.description = ""
        self.forceInSteering = False
        self.setInSteering = True


class Module:
    """A module: registered by type name (C++ module in real basf2) or a Python subclass."""

    def __init__(self, type_name: str | None = None) -> None:
        python_module = type(self) is not Module
        self._type = type_name or (type(self).__name__ if python_module else "Module")
        self._name = self._type
        self._params: dict[str, Any] = {}
        self._conditions: list[tuple[str, Any, Path, str]] = []
        self._log_level: LogLevel | None = None
        self._is_python = python_module

    # identity
    def name(self) -> str:
        return self._name

    def set_name(self, name: str) -> None:
        self._name = name

    def type(self) -> str:
        return self._type

    def description(self) -> str:
        return f"b2core stand-in for {self._type}"

    def is_python_module(self) -> bool:
        return self._is_python

    # parameters
    def param(self, key: str | dict[str, Any], value: Any = None) -> None:
        if isinstance(key, dict):
            for k, v in key.items():
                self._params[k] = v
        else:
            self._params[key] = value

    def available_params(self) -> list[ModuleParamInfo]:
        return [ModuleParamInfo(k, v) for k, v in self._params.items()]

    def set_log_level(self, level: LogLevel | int) -> None:
        self._log_level = LogLevel(int(level))

    def set_debug_level(self, level: int) -> None:
        pass

    # conditions
    def if_value(self, expression: str, condition_path: Path, after_condition_path: str = "End") -> None:
        self._conditions.append(("value", expression, condition_path, after_condition_path))

    def if_false(self, condition_path: Path, after_condition_path: str = "End") -> None:
        self.if_value("<1", condition_path, after_condition_path)

    def if_true(self, condition_path: Path, after_condition_path: str = "End") -> None:
        self.if_value(">=1", condition_path, after_condition_path)

    def has_condition(self) -> bool:
        return bool(self._conditions)

    def get_all_condition_paths(self) -> list[Path]:
        return [c[2] for c in self._conditions]

    # python module hooks (no-ops unless overridden)
    def initialize(self) -> None:
        pass

    def beginRun(self) -> None:
        pass

    def event(self) -> None:
        pass

    def endRun(self) -> None:
        pass

    def terminate(self) -> None:
        pass

    def return_value(self, value: Any) -> None:
        self._return_value = value

    def __repr__(self) -> str:
        return f"<basf2 stand-in module {self._name} ({self._type})>"


def register_module(name_or_module: str | Module, shared_lib_path: str | None = None, **params: Any) -> Module:
    module = name_or_module if isinstance(name_or_module, Module) else Module(str(name_or_module))
    if params:
        module.param(params)
    return module


class Path:
    """An ordered list of modules."""

    def __init__(self) -> None:
        self._modules: list[Module] = []

    def add_module(self, module: str | Module, **params: Any) -> Module:
        mod = register_module(module)
        if params:
            mod.param(params)
        self._modules.append(mod)
        return mod

    def add_path(self, path: Path) -> None:
        """Insert all modules of ``path`` at the end of this path."""
        self._modules.extend(path.modules())

    def add_independent_path(self, path: Path, ds_ID: str = "", merge_back: list | None = None) -> None:
        self._modules.extend(path.modules())

    def modules(self) -> list[Module]:
        return list(self._modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __contains__(self, name: str) -> bool:
        return any(m.name() == name for m in self._modules)

    def __str__(self) -> str:
        return "[" + " -> ".join(m.name() for m in self._modules) + "]"

    __repr__ = __str__


def create_path() -> Path:
    return Path()


class _Statistics:
    """Per-module call counters of the last ``process()`` call, printed like a table."""

    def __init__(self) -> None:
        self.modules: list[tuple[str, int, float]] = []

    def clear(self) -> None:
        self.modules = []

    def __str__(self) -> str:
        width = max([len("Name")] + [len(n) for n, _, _ in self.modules])
        lines = [
            "=" * (width + 40),
            f"{'Name':<{width}} | {'Calls':>8} | {'Time(s)':>10} | {'Time(ms)/Call':>13}",
            "=" * (width + 40),
        ]
        for name, calls, seconds in self.modules:
            per_call = seconds * 1000 / calls if calls else 0.0
            lines.append(f"{name:<{width}} | {calls:>8} | {seconds:>10.3f} | {per_call:>13.3f}")
        lines.append("=" * (width + 40))
        return "\n".join(lines)


statistics = _Statistics()

# set by ``python -m basf2`` (the stand-in of the basf2 executable)
_cli: dict[str, Any] = {"input_files": [], "max_events": 0, "dump_path": None}


def get_file_names() -> list[str]:
    return list(_cli["input_files"])


def _flatten(path: Path) -> list[Module]:
    result = []
    for module in path.modules():
        result.append(module)
        for condition_path in module.get_all_condition_paths():
            result.extend(_flatten(condition_path))
    return result


def read_fake_root(filename: str) -> dict[str, Any]:
    """Read back the payload of a file written by the stand-in ``process()`` or merge tools (for tests)."""
    return _rootfile.read_payload(filename)


def write_fake_root(filename: str, payload: dict[str, Any]) -> None:
    """Write a stand-in ROOT file whose top directory lists the payload's ``keys``."""
    _rootfile.write(filename, [(k["class"], k["name"]) for k in payload["keys"]], payload)


def process(path: Path, max_event: int = 0, calculateStatistics: bool = False) -> None:
    """'Process' the path: run Python modules and write one fake ROOT file per output file name."""
    if not isinstance(path, Path):
        raise TypeError("basf2.process() needs a basf2.Path")
    if _cli["dump_path"]:
        from .pickle_path import write_path_to_file

        write_path_to_file(path, _cli["dump_path"])
        print(f"[INFO] Path written to {_cli['dump_path']} (--dump-path), not processed")
        return
    from variables import variables as _vm

    modules = _flatten(path)
    n_inputs = len(_cli["input_files"])
    n_events = DEFAULT_EVENTS * max(1, n_inputs)
    limit = max_event or _cli["max_events"]
    if limit:
        n_events = min(n_events, int(limit))
    for module in modules:
        if module.type() == "EventInfoSetter":
            evts = module._params.get("evtNumList")
            if evts:
                n_events = sum(evts) if not limit else min(sum(evts), int(limit))

    B2INFO(f"Starting event processing, random seed is set to 'b2core-standin' ({len(modules)} modules)")
    statistics.clear()
    python_modules = [m for m in modules if m.is_python_module()]
    timings = {id(m): 0.0 for m in modules}
    for hook in ("initialize", "beginRun"):
        for module in python_modules:
            getattr(module, hook)()
    for _ in range(n_events):
        for module in python_modules:
            t0 = time.perf_counter()
            module.event()
            timings[id(module)] += time.perf_counter() - t0
    for hook in ("endRun", "terminate"):
        for module in python_modules:
            getattr(module, hook)()

    outputs: dict[str, dict[str, Any]] = {}
    for module in modules:
        spec = OUTPUT_MODULES.get(module.type())
        if not spec:
            continue
        param, default_name, default_tree = spec
        filename = str(module._params.get(param) or default_name)
        entry = outputs.setdefault(filename, {"keys": [], "modules": []})
        entry["modules"].append(module.name())
        tree = module._params.get("treeName", default_tree)
        if tree:
            entry["keys"].append(
                {
                    "name": tree,
                    "class": "TTree",
                    "entries": n_events,
                    "branches": list(module._params.get("variables") or []),
                    "particleList": module._params.get("particleList"),
                }
            )
        else:
            entry["keys"].append({"name": module.name(), "class": "TDirectoryFile", "entries": 0})

    from .version import get_version

    for filename, entry in outputs.items():
        write_fake_root(
            filename,
            {
                "format": "b2core-basf2-standin-root/1",
                "keys": entry["keys"],
                "written_by": entry["modules"],
                "events": n_events,
                "input_files": list(_cli["input_files"]),
                "globaltags": list(conditions.globaltags),
                "aliases": {name: _vm.getVariable(name).name for name in _vm.getAliasNames()},
                "release": get_version(),
                "path": [m.type() for m in path.modules()],
            },
        )
    for module in modules:
        statistics.modules.append((module.name(), n_events, timings.get(id(module), 0.0)))
    B2INFO(f"Processed: {n_events} events, wrote {len(outputs)} output file(s): {sorted(outputs)}")


def print_path(path: Path, defaults: bool = False, description: bool = False, indentation: int = 0) -> None:
    pad = " " * indentation
    if indentation == 0:
        print("=" * 80)
        print("Modules and parameter settings in the path")
        print("=" * 80)
        print(f"{'Index':>5} | {'Module':<30} | {'Parameter':<20} | Value")
        print("-" * 80)
    for index, module in enumerate(path.modules()):
        params = list(module._params.items()) or [("", "")]
        for i, (key, value) in enumerate(params):
            label = f"{pad}{module.name()}" if i == 0 else ""
            number = str(index) if i == 0 else ""
            print(f"{number:>5} | {label:<30} | {key:<20} | {value}")
        for condition_path in module.get_all_condition_paths():
            print(f"{'':>5} | {pad}  condition path of {module.name()}:")
            print_path(condition_path, defaults, description, indentation + 4)
    if indentation == 0:
        print("=" * 80)


def set_random_seed(seed: Any) -> None:
    _cli["random_seed"] = seed


def find_file(filename: str, data_type: str = "", silent: bool = False) -> str:
    if os.path.exists(filename):
        return os.path.abspath(filename)
    if silent:
        return ""
    raise FileNotFoundError(filename)
