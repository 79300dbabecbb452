"""Worker/scheduler factory that plugs the linear scheduler and worker into luigi.build."""

from __future__ import annotations

from typing import Any

from b2core.scheduling.linear_worker import LinearWorker
from b2core.scheduling.remote_client import BatchingRemoteScheduler
from b2core.scheduling.scheduler import LinearScheduler
from luigi import rpc


class WorkerSchedulerFactory:
    """Like luigi.interface._WorkerSchedulerFactory, but local runs scale linearly with task count."""

    #: worker class created by create_worker; batch back-ends subclass LinearWorker and set this
    worker_class: type[LinearWorker] = LinearWorker
    #: scheduler class created by create_local_scheduler
    scheduler_class: type[LinearScheduler] = LinearScheduler

    def __init__(self, worker_class: type[LinearWorker] | None = None, **worker_kwargs: Any) -> None:
        """Optionally override the worker class and pass extra keyword arguments to it."""
        if worker_class is not None:
            self.worker_class = worker_class
        self.worker_kwargs = worker_kwargs

    def create_local_scheduler(self) -> LinearScheduler:
        """In-process scheduler used with local_scheduler=True."""
        return self.scheduler_class(prune_on_get_work=True, record_task_history=False)

    def create_remote_scheduler(self, url: str) -> rpc.RemoteScheduler:
        """Client of a central scheduler (`b2core scheduler` or luigid) that sends add_task calls in bulk."""
        return BatchingRemoteScheduler(url)

    def create_worker(self, scheduler: Any, worker_processes: int, assistant: bool = False) -> LinearWorker:
        """Worker that runs the tasks (in-process for one process, forked processes for more)."""
        extra = getattr(self, "worker_kwargs", {})  # subclasses may skip our __init__
        return self.worker_class(scheduler=scheduler, worker_processes=worker_processes, assistant=assistant, **extra)
