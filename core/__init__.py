"""b2core: write luigi tasks once; run them on a laptop, a batch farm or the grid by changing a setting.

A drop-in for b2luigi: ``import b2core as b2luigi``.
"""

import luigi as _luigi
from b2core.cli.process import process
from b2core.decorators import inherits, requires
from b2core.execution import DispatchableTask, dispatch, on_temporary_files
from b2core.hookspecs import hookimpl
from b2core.parameters import PARAMETER_TYPES, BatchIntParameter, wrap_parameter
from b2core.remote import RemoteFileSystem, RemoteTarget
from b2core.settings import clear_setting, get_setting, set_setting, with_new_settings
from b2core.targets import LocalTarget
from b2core.task import ExternalTask, Task, WrapperTask
from b2core.workflow import Workflow
from luigi.util import copies

# luigi's public names too, as b2luigi offers them, without shadowing b2core's own (Task, task, ...).
globals().update({name: getattr(_luigi, name) for name in _luigi.__all__ if name not in globals()})
globals().update(PARAMETER_TYPES)

__version__ = "0.1.0"
__all__ = [
    "BatchIntParameter",
    "DispatchableTask",
    "ExternalTask",
    "LocalTarget",
    "RemoteFileSystem",
    "RemoteTarget",
    "Task",
    "Workflow",
    "WrapperTask",
    "clear_setting",
    "copies",
    "dispatch",
    "get_setting",
    "hookimpl",
    "inherits",
    "on_temporary_files",
    "process",
    "requires",
    "set_setting",
    "with_new_settings",
    "wrap_parameter",
    *PARAMETER_TYPES,
    *(name for name in _luigi.__all__ if name not in PARAMETER_TYPES),
]


def __getattr__(name: str) -> object:
    """Protocol names (XRootDSystem, WebDAVTarget, ...) from the installed protocol plugin, on first use."""
    if name.startswith("_"):
        raise AttributeError(name)
    from b2core.remote.registry import protocol_name

    return protocol_name(name)
