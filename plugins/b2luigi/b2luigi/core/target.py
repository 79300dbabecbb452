"""b2luigi.core.target: the file target."""

from b2core.targets import LocalTarget

__all__ = ["LocalTarget"]
