"""b2core stand-in for the Belle II ``basf2`` Python package (NOT basf2).

Only what b2core's gbasf2 and basf2 plugins need: build a path of modules with
parameters, pickle it together with variable aliases, global tags and the log
level, restore it in a steering file and "process" it, which writes small fake
ROOT files (``basf2.read_fake_root`` reads them back). Put
``tests/standins/gbasf2/python`` on ``PYTHONPATH`` to use it.
"""

from . import pickle_path, version
from ._core import (
    B2ERROR,
    B2FATAL,
    B2INFO,
    B2WARNING,
    FAKE_ROOT_MAGIC,
    LogLevel,
    Module,
    ModuleParamInfo,
    Path,
    conditions,
    create_path,
    find_file,
    get_file_names,
    logging,
    print_path,
    process,
    read_fake_root,
    register_module,
    set_log_level,
    set_random_seed,
    statistics,
)

__all__ = [
    "B2ERROR",
    "B2FATAL",
    "B2INFO",
    "B2WARNING",
    "FAKE_ROOT_MAGIC",
    "LogLevel",
    "Module",
    "ModuleParamInfo",
    "Path",
    "conditions",
    "create_path",
    "find_file",
    "get_file_names",
    "logging",
    "pickle_path",
    "print_path",
    "process",
    "read_fake_root",
    "register_module",
    "set_log_level",
    "set_random_seed",
    "statistics",
    "version",
]
