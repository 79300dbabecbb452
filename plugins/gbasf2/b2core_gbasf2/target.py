"""A luigi target for a project's output dataset that stays on the grid (gbasf2_download_dataset = False)."""

from __future__ import annotations

from typing import Any

import luigi
from b2core.batch.commands import CommandRunner
from b2core.paths import map_folder
from b2core.settings import get_setting

from b2core_gbasf2.grid import output_dataset, session_for


class Gbasf2GridProjectTarget(luigi.Target):
    """Exists when the project's dataset is on the grid and, while the project exists, all its jobs are Done.

    Uses the global gbasf2_proxy_group, gbasf2_project_lpn_path and gbasf2_setup_path settings; a
    task's own gbasf2_proxy_group must not differ from the global one.
    """

    def __init__(self, project_name: str, dirac_user: str | None = None, gbasf2_setup_path: str | None = None) -> None:
        self.project_name = project_name
        self.dirac_user = dirac_user
        self.gbasf2_setup_path = gbasf2_setup_path

    def _session(self) -> Any:
        setup_path = map_folder(self.gbasf2_setup_path or get_setting("gbasf2_setup_path"))
        return session_for(setup_path, get_setting("gbasf2_proxy_group"), CommandRunner())

    def dataset(self) -> str:
        """The LPN of the project's output dataset (checks the proxy, which names the DIRAC user)."""
        session = self._session()
        user = session.ensure_proxy(get_setting("gbasf2_proxy_lifetime"), get_setting("gbasf2_min_proxy_lifetime"))
        lpn_path = get_setting("gbasf2_project_lpn_path", default="")
        return output_dataset(self.project_name, self.dirac_user or user, session.group, lpn_path)

    def exists(self) -> bool:
        """True when the dataset holds files and no job of the (still existing) project is unfinished or failed."""
        dataset = self.dataset()
        session = self._session()
        if not session.list_lfns(dataset):
            return False
        return all(job.succeeded for job in session.job_status(self.project_name))

    def __repr__(self) -> str:
        return f"Gbasf2GridProjectTarget({self.project_name!r})"
