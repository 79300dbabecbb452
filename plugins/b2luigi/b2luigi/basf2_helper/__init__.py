"""b2luigi.basf2_helper: the basf2 tasks and targets, implemented by the plugin b2core-basf2."""

from b2core.b2luigi_package import require_plugin

require_plugin("b2core_basf2", "b2core-basf2", __name__)

from b2core_basf2 import *  # noqa: E402, F403  (b2core-basf2's public names are b2luigi's)
from b2core_basf2 import __all__  # noqa: E402, F401
