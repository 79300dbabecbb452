"""b2core-slurm: run b2core tasks as Slurm jobs (job arrays for bulk submissions)."""

__version__ = "0.1.0"
