"""b2luigi.basf2_helper.tasks: basf2 path tasks and ROOT file mergers (from b2core-basf2)."""

from b2core_basf2.tasks import (
    Basf2FileMergeTask,
    Basf2nTupleMergeTask,
    Basf2PathTask,
    Basf2Task,
    HaddTask,
    MergerTask,
    SimplifiedOutputBasf2Task,
)

__all__ = [
    "Basf2FileMergeTask",
    "Basf2PathTask",
    "Basf2Task",
    "Basf2nTupleMergeTask",
    "HaddTask",
    "MergerTask",
    "SimplifiedOutputBasf2Task",
]
