"""b2core-lsf: run b2core tasks as LSF jobs, one job array per bsub."""

__version__ = "0.1.0"
