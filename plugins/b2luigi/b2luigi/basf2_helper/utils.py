"""b2luigi.basf2_helper.utils: the basf2 release lookup (from b2core-basf2)."""

from b2core_basf2.utils import get_basf2_git_hash

__all__ = ["get_basf2_git_hash"]
