"""Linear-time scheduling for luigi workflows: scheduler, worker and the factory for luigi.build."""

from b2core.scheduling.factory import WorkerSchedulerFactory
from b2core.scheduling.linear_worker import LinearWorker
from b2core.scheduling.scheduler import LinearScheduler

__all__ = ["LinearScheduler", "LinearWorker", "WorkerSchedulerFactory"]
