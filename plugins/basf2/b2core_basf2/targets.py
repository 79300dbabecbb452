"""ROOTLocalTarget: a ROOT file counts only once it holds at least one object, not when it merely exists."""

from __future__ import annotations

import os

from b2core.targets import LocalTarget

from b2core_basf2.rootfile import NotARootFile, count_keys


class ROOTLocalTarget(LocalTarget):
    """A local ROOT file that exists when its top directory has a key (a crashed writer leaves none).

    A folder (a gbasf2 dataset downloaded under a ``.root`` name) exists when the folder does.
    """

    def exists(self) -> bool:
        """True for a complete ROOT file with at least one key, or an existing folder."""
        if os.path.isdir(self.path):
            return True
        if not super().exists():
            return False
        try:
            return count_keys(self.path) > 0
        except (NotARootFile, OSError):
            return False
