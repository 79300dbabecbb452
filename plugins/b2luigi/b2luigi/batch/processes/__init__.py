"""b2luigi.batch.processes: the base class of custom batch systems and the statuses its get_job_status() returns."""

from b2core.batch.custom import BatchProcess
from b2core.batch.custom import ProcessStatus as JobStatus

__all__ = ["BatchProcess", "JobStatus"]
