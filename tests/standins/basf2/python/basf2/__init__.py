"""b2core stand-in for the Belle II ``basf2`` Python package (NOT basf2).

Only what b2core's gbasf2 and basf2 plugins need: build a path of modules with
parameters, pickle it together with variable aliases, global tags and the log
level, restore it in a steering file and "process" it, which writes small ROOT
files with ROOT's real key layout (``basf2.read_fake_root`` reads their payload
back). Put ``tests/standins/basf2/python`` on ``PYTHONPATH`` to use it; the
stand-in ``hadd``/``b2file-merge`` are in ``tests/standins/basf2/bin``.
"""

from . import pickle_path, version
from ._core import (
    B2ERROR,
    B2FATAL,
    B2INFO,
    B2WARNING,
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
    write_fake_root,
)

__all__ = [
    "B2ERROR",
    "B2FATAL",
    "B2INFO",
    "B2WARNING",
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
    "write_fake_root",
]
