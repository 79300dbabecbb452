"""b2core-sge: run b2core tasks as Grid Engine jobs, one array job per qsub."""

__version__ = "0.1.0"
