"""Settling job records of jobs that ended while no steering process watched them (their tasks were complete
when the next run looked, so it never re-attached): without this, `b2core status` shows them running for good.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from pathlib import Path

from b2core.batch.commands import CommandRunner
from b2core.batch.containment import query_each
from b2core.batch.jobstore import JobRecord, JobStore, now
from b2core.batch.packing import PackingBackend
from b2core.errors import BatchCommandError, WorkflowStateError
from b2core.plugins import backend_class, installed_backends

logger = logging.getLogger("b2core.batch")


def settle_unwatched(store: JobStore | None, path: Path) -> int:
    """Ask the backends once about every record still in flight and write the final state of those that ended."""
    if store is None:
        if not path.exists():
            return 0
        store = JobStore(path)
        try:
            return settle_unwatched(store, path)
        finally:
            store.close()
    by_backend: dict[str, list[JobRecord]] = defaultdict(list)
    for record in store.in_flight():
        by_backend[record.backend].append(record)
    settled = []
    for name, records in by_backend.items():
        ids = [record.job_id for record in records if record.job_id]
        try:
            if name not in installed_backends():
                continue
            backend = PackingBackend(backend_class(name)(CommandRunner()))  # packed tasks' ids name their pack
            try:
                statuses = backend.query(ids)
            except BatchCommandError:
                raise
            except Exception as error:
                statuses, _ = query_each(backend, ids, error)
        except Exception as error:
            logger.warning("Could not look at %d %s job(s) that ran unwatched: %s", len(ids), name, error)
            continue
        for record in records:
            status = statuses.get(record.job_id or "")
            if status is not None and status.state.finished:
                record.state, record.native_state, record.exit_code = (
                    status.state.value,
                    status.native_state,
                    status.exit_code,
                )
                record.reason = "; ".join(filter(None, [status.reason, "ended while no steering process watched"]))
                record.finished = now()
                settled.append(record)
    try:
        store.upsert_many(settled)
    except WorkflowStateError as error:  # a full log_dir: the records stay as they were, the run's result stands
        logger.warning("Could not settle %d job record(s): %s", len(settled), error)
        return 0
    return len(settled)
