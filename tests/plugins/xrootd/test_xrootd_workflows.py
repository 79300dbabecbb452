"""The seeds' number/average workflow with every output on the real XRootD server, and its faults."""

from __future__ import annotations

from remote_scenarios import ServerFaultScenarios


class TestXRootDWorkflows(ServerFaultScenarios):
    """Every shared scenario against the XRootD server."""
