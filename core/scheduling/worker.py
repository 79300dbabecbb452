"""luigi worker with linear-cost bookkeeping."""

from __future__ import annotations

import luigi.worker


class LinearWorker(luigi.worker.Worker):
    """luigi.worker.Worker; placeholder until profiling shows what to override."""
