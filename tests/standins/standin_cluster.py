"""A stand-in batch system (HTCondor, LSF) private to one test: state folder, call log, job table.

Shared by the plugins' end-to-end tests, which import it with tests/standins on sys.path; it is the
`Cluster` the conformance kit (b2core.testing.conformance) runs its scenarios on."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from b2core.testing.conformance import Cluster

#: the stand-in tree; B2CORE_TEST_STANDINS points the tests at another one (e.g. a patched copy)
STANDINS = Path(os.environ.get("B2CORE_TEST_STANDINS") or Path(__file__).resolve().parent)
BIN = {"htcondor": STANDINS / "htcondor" / "bin", "lsf": STANDINS / "lsf" / "bin"}


class StandinCluster(Cluster):
    """A private stand-in batch system for one test; `systems` are put on PATH, the first is the default."""

    fast_env = {
        "B2CORE_POLL_INTERVAL": "0.3",
        "B2CORE_SUBMIT_INTERVAL": "0.1",
        "B2CORE_BATCH_COMMAND_RETRY_WAIT": "0.1",
    }

    def __init__(self, folder: Path, systems: list[str]) -> None:
        super().__init__(folder)
        self.state = folder / "standin-state"
        self.state.mkdir()
        self.systems = list(systems)

    def env(self) -> dict[str, str]:
        """The environment of steering scripts and commands: stand-ins first on PATH, fast polling."""
        env = {k: v for k, v in super().env().items() if not k.startswith(("_CONDOR", "LSB_"))}
        env["PATH"] = os.pathsep.join([*(str(BIN[name]) for name in self.systems), env.get("PATH", os.defpath)])
        env.setdefault("B2CORE_STANDIN_DIR", str(self.state))
        return env

    def count(self, tool: str) -> int:
        """How often the stand-ins ran `tool`."""
        return len(self.calls(tool))

    def kill_next_submitter(self) -> None:
        """The next condor_submit/bsub answers and then SIGKILLs its caller (the stand-ins' kill_submitter knob)."""
        (self.state / "kill_submitter").write_text("")

    def command(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """Run one stand-in command (condor_hold, bjobs, ...) against this cluster."""
        return subprocess.run(list(argv), env=self.env(), capture_output=True, text=True, timeout=30)

    def calls(self, tool: str | None = None) -> list[dict[str, Any]]:
        """Every recorded invocation of the stand-ins, optionally of one tool."""
        path = self.state / "calls.jsonl"
        if not path.exists():
            return []
        calls = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [call for call in calls if tool is None or call["tool"] == tool]

    def jobs(self, system: str | None = None) -> dict[str, dict[str, Any]]:
        """A stand-in's job table (queue and history): one file per job, or one queue.json (see standin_queue.py)."""
        system = system or self.systems[0]
        folder = self.state / system / "jobs"
        if folder.is_dir():
            jobs = {}
            for path in folder.glob("*.json"):
                with contextlib.suppress(FileNotFoundError, ValueError):  # files are replaced atomically
                    jobs[path.stem] = json.loads(path.read_text())
            return jobs
        path = self.state / system / "queue.json"
        return json.loads(path.read_text())["jobs"] if path.exists() else {}

    def cleanup(self) -> None:
        """Stop steering processes and every job process the stand-ins still run."""
        super().cleanup()
        for system in ("htcondor", "lsf"):
            for job in self.jobs(system).values():
                run = job.get("_run") or {}
                if run.get("pid") and run.get("state") == "running":
                    with contextlib.suppress(OSError):
                        os.killpg(run["pid"], signal.SIGKILL)
