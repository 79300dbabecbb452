"""b2core-gbasf2: run basf2 path tasks as gbasf2 projects on the Belle II grid.

Set ``batch_system = "gbasf2"`` on a :class:`Basf2PathTask`; the backend pickles its path,
submits a project, monitors and reschedules its jobs, and downloads the output datasets.
"""

from b2core_basf2 import Basf2PathTask  # re-exported: the task class gbasf2 submits (from b2core-basf2)

from b2core_gbasf2.project import get_unique_project_name
from b2core_gbasf2.target import Gbasf2GridProjectTarget

__version__ = "0.1.0"
__all__ = ["Basf2PathTask", "Gbasf2GridProjectTarget", "get_unique_project_name"]
