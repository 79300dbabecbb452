"""Linear-time scheduling for luigi workflows: scheduler, worker and the factory for luigi.build."""

from b2core.scheduling.factory import WorkerSchedulerFactory
from b2core.scheduling.scheduler import LinearScheduler
from b2core.scheduling.worker import LinearWorker

__all__ = ["LinearScheduler", "LinearWorker", "WorkerSchedulerFactory"]
