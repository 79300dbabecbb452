"""b2luigi.core.executable: the job wrapper script a custom BatchProcess runs."""

from b2core.batch.custom import create_executable_wrapper

__all__ = ["create_executable_wrapper"]
