"""Stand-in for ``basf2.pickle_path``: paths as plain, picklable dictionaries.

``serialize_path(path)`` returns ``{"path": [module dicts]}``; each module dict
holds its type, name, parameters, log level and conditions (with their serialised
condition paths). As in real basf2, paths with Python modules cannot be serialised
(``ValueError``). Callers may add
more keys (b2luigi-style wrappers add ``aliases``, ``globaltags`` and ``log_level``).
"""

from __future__ import annotations

import pickle
from typing import Any

from ._core import LogLevel, Module, Path, register_module


def serialize_value(module: Module, name: str) -> Any:
    value = module._params[name]
    if isinstance(value, Path):
        return {"__path__": serialize_path(value)}
    return value


def serialize_module(module: Module) -> dict[str, Any]:
    if module.is_python_module():
        # like real basf2: only registered (C++) modules can be pickled; b2luigi documents
        # this limitation and offers custom steering files for Python modules
        raise ValueError(f"Can not serialize python module {module.name()}: only C++ modules are picklable")
    data: dict[str, Any] = {
        "type": module.type(),
        "name": module.name(),
        "flag": "",
        "parameters": [{"name": k, "values": serialize_value(module, k)} for k in module._params],
        "log_level": int(module._log_level) if module._log_level is not None else None,
        "condition": [
            {"kind": kind, "expression": expr, "path": serialize_path(cpath), "after": after}
            for kind, expr, cpath, after in module._conditions
        ],
    }
    return data


def serialize_path(path: Path) -> dict[str, Any]:
    return {"path": [serialize_module(m) for m in path.modules()]}


def deserialize_module(data: dict[str, Any]) -> Module:
    module = register_module(data["type"])
    module.set_name(data["name"])
    for param in data.get("parameters", []):
        value = param["values"]
        if isinstance(value, dict) and "__path__" in value:
            value = deserialize_path(value["__path__"])
        module.param(param["name"], value)
    if data.get("log_level") is not None:
        module.set_log_level(LogLevel(data["log_level"]))
    for cond in data.get("condition", []):
        module._conditions.append((cond["kind"], cond["expression"], deserialize_path(cond["path"]), cond["after"]))
    return module


def deserialize_path(data: dict[str, Any]) -> Path:
    path = Path()
    for module_data in data["path"]:
        path.add_module(deserialize_module(module_data))
    return path


def write_path_to_file(path: Path, filename: str) -> None:
    with open(filename, "bw") as fobj:
        pickle.dump(serialize_path(path), fobj)


def get_path_from_file(path_filename: str) -> Path:
    with open(path_filename, "br") as fobj:
        return deserialize_path(pickle.load(fobj))
