"""`b2core scheduler`: b2core's linear scheduler behind luigi's own HTTP server (RPC and web view).

luigi's ``luigid`` serves luigi's scheduler, whose ``get_work`` and prune walk every task (quadratic
over a run); this serves :class:`LinearScheduler` through ``luigi.server``, so luigi's and b2core's
workers (``--scheduler-host/--scheduler-port``) and luigi's visualiser talk to it unchanged. Tasks
are handed to one worker at a time, so several steering processes sharing it never run a task twice.

One RPC call is added, ``multicall``: several calls in one request, which b2core's client
(:mod:`b2core.scheduling.remote_client`) uses for the add_task calls of a steering process; luigi's
clients never send it.
"""

from __future__ import annotations

import logging
from typing import Any

from b2core.scheduling.remote_client import MULTICALL
from b2core.scheduling.scheduler import LinearScheduler
from luigi.scheduler import RPC_METHODS, rpc_method

logger = logging.getLogger(__name__)

# luigi answers the web view with every matching task (up to 100,000 each); above these sizes the
# visualiser shows the count and asks for a filter instead, so each query stays under a second
WEB_VIEW_LIMITS = {"max_shown_tasks": 2_000, "max_graph_nodes": 2_000}


class CentralScheduler(LinearScheduler):
    """The linear scheduler as `b2core scheduler` serves it: luigi's RPC calls plus ``multicall``."""

    @rpc_method()
    def multicall(self, calls: list[list[Any]]) -> list[Any]:
        """Answer [method, arguments] calls in order, as if each came alone: an HTTP request costs the server
        about 20 add_task calls, and a steering process makes one add_task per task while it schedules."""
        answers = []
        for method, arguments in calls:
            if method not in RPC_METHODS or method == MULTICALL or not hasattr(self, method):
                raise ValueError(f"{method!r} is not an RPC call of this scheduler")
            answers.append(getattr(self, method)(**arguments))
        return answers


def serve(port: int = 8082, address: str | None = None, state_path: str | None = None) -> None:
    """Run until SIGTERM/SIGINT, then save the state file (luigid's behaviour)."""
    import luigi.server
    from luigi import configuration

    config = configuration.get_config()
    overrides: dict[str, object] = {
        name: value for name, value in WEB_VIEW_LIMITS.items() if not config.has_option("scheduler", name)
    }
    if state_path:
        overrides["state_path"] = state_path
    scheduler = CentralScheduler(**overrides)
    _read_cors_once(luigi.server)
    logger.info("b2core scheduler on %s:%s, state file %s", address or "*", port, scheduler._config.state_path)
    luigi.server.run(api_port=port, address=address, scheduler=scheduler)


def _read_cors_once(server: Any) -> None:
    """luigi's RPC handler reads its 18 [cors] options from the config on every request (a third of the
    server's CPU time per call); the config is read once at start anyway, so every request shares one."""
    options = server.cors()
    server.cors = lambda: options
