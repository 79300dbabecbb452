"""b2luigi.core.temporary_wrapper: outputs written to scratch first."""

from b2core.execution import on_temporary_files

__all__ = ["on_temporary_files"]
