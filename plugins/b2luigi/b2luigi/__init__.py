"""b2luigi's top-level names, implemented by b2core: ``import b2luigi`` in an unchanged b2luigi project."""

from b2core.b2luigi_package import refuse_real_b2luigi
from b2core.parameters import wrap_parameter

refuse_real_b2luigi()
wrap_parameter()  # as importing b2luigi did: plain luigi.Parameter(hashed=True, hidden=True) works

from b2core import *  # noqa: E402, F403  (b2core's public names are b2luigi's)
from b2core import __all__ as _b2core_names  # noqa: E402
from b2core import __version__  # noqa: E402, F401  (b2luigi.__version__ exists too)
from luigi import task  # noqa: E402  (b2luigi.task is luigi's task module, e.g. b2luigi.task.flatten)

from b2luigi import cli, core  # noqa: E402

__all__ = [*_b2core_names, "cli", "core", "task"]


def __getattr__(name: str) -> object:
    """b2luigi.XRootDTarget, b2luigi.WebDAVSystem, ...: from the installed protocol plugin, on first use."""
    import b2core

    return getattr(b2core, name)
