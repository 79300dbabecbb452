"""The seeds' number/average workflow with every output on fsspec's local file system (file://)."""

from __future__ import annotations

from remote_scenarios import WorkflowScenarios


class TestFsspecWorkflows(WorkflowScenarios):
    """The shared workflow scenarios through fsspec (no server to stop here)."""
