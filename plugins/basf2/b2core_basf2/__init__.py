"""b2core-basf2: Belle II basf2 helpers (b2luigi's basf2_helper) for b2core, on every backend.

Basf2PathTask runs a basf2 path; HaddTask, Basf2FileMergeTask and Basf2nTupleMergeTask merge the
ROOT files of required tasks; ROOTLocalTarget counts a ROOT file only when it holds an object.
"""

from b2core_basf2.targets import ROOTLocalTarget
from b2core_basf2.tasks import (
    Basf2FileMergeTask,
    Basf2nTupleMergeTask,
    Basf2PathTask,
    Basf2Task,
    HaddTask,
    MergerTask,
    SimplifiedOutputBasf2Task,
)
from b2core_basf2.utils import get_basf2_git_hash

__version__ = "0.1.0"
__all__ = [
    "Basf2FileMergeTask",
    "Basf2PathTask",
    "Basf2Task",
    "Basf2nTupleMergeTask",
    "HaddTask",
    "MergerTask",
    "ROOTLocalTarget",
    "SimplifiedOutputBasf2Task",
    "get_basf2_git_hash",
]
