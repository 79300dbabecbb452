"""b2luigi.core.utils: b2luigi's helper functions."""

from b2core.utils import *  # noqa: F403
from b2core.utils import __all__  # noqa: F401
