"""b2luigi.basf2_helper: the basf2 tasks and targets, implemented by the plugin b2core-basf2."""

from b2core.b2luigi_package import require_plugin

require_plugin("b2core_basf2", "b2core-basf2", __name__)

from b2core_basf2 import (  # noqa: E402
    Basf2FileMergeTask,
    Basf2nTupleMergeTask,
    Basf2PathTask,
    Basf2Task,
    HaddTask,
    MergerTask,
    ROOTLocalTarget,
    SimplifiedOutputBasf2Task,
)

__all__ = [
    "Basf2FileMergeTask",
    "Basf2PathTask",
    "Basf2Task",
    "Basf2nTupleMergeTask",
    "HaddTask",
    "MergerTask",
    "ROOTLocalTarget",
    "SimplifiedOutputBasf2Task",
]
