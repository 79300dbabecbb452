"""Keeping one bad job from taking the run down: when a bulk query or cancel fails with anything but a batch
command error (a bug, a malformed job record), it is repeated job by job so only the culprits fail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from b2core.batch.backend import BatchBackend, JobState, JobStatus
from b2core.errors import BatchCommandError

logger = logging.getLogger("b2core.batch")


def query_each(
    backend: BatchBackend, job_ids: Sequence[str], bulk_error: Exception
) -> tuple[dict[str, JobStatus], dict[str, str]]:
    """After a bulk query raised bulk_error: (statuses of the jobs that answer alone, problem of each that does not)."""
    logger.warning("Querying %d %s job(s) failed (%r); asking job by job", len(job_ids), backend.name, bulk_error)
    statuses: dict[str, JobStatus] = {}
    broken: dict[str, str] = {}
    for job_id in job_ids:
        try:
            statuses.update(backend.query([job_id]))
        except BatchCommandError:
            raise
        except Exception as error:
            broken[job_id] = f"{type(error).__name__}: {error}"
    return statuses, broken


def cancel_each(backend: BatchBackend, job_ids: Sequence[str], cancel: Callable[[list[str]], None]) -> None:
    """Cancel in bulk; if that fails for anything but a batch command error, cancel job by job, logging each failure."""
    try:
        cancel(list(job_ids))
        return
    except BatchCommandError:
        raise
    except Exception as error:
        logger.warning("Cancelling %d %s job(s) failed (%r); cancelling job by job", len(job_ids), backend.name, error)
    for job_id in job_ids:
        try:
            cancel([job_id])
        except Exception as error:
            logger.error("Could not cancel %s job %s: %s: %s", backend.name, job_id, type(error).__name__, error)


def is_lost_unobserved(job: Any, status: JobStatus) -> bool:
    """A re-attached job found gone without an exit code at its first look ended while nobody watched
    (a reboot, a kill of its whole session): that is no failure of the task, so it is submitted again."""
    return job.reattached and status.state is JobState.FAILED and status.exit_code is None
