"""Helpers of the Apptainer tests: a workflow folder with an image and the stand-in apptainer on PATH."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
STANDIN_BIN = REPO / "tests" / "standins" / "apptainer" / "bin"

SCRIPT_HEADER = '''
import json
import os
import sys

import b2core as b2luigi


def describe_environment(task, path):
    """What a task saw: whether it ran in the container, and a few variables."""
    seen = {
        "container": os.environ.get("APPTAINER_CONTAINER"),
        "host_marker": os.environ.get("HOST_MARKER"),
        "env_script_marker": os.environ.get("ENV_SCRIPT_MARKER"),
        "lang": os.environ.get("LANG"),
        "cwd": os.getcwd(),
    }
    with open(path, "w") as handle:
        json.dump(seen, handle)
'''


@dataclass
class Workflow:
    """A steering-script folder with an image file, run with the stand-in apptainer first on PATH."""

    root: Path
    state: Path

    @property
    def image(self) -> Path:
        return self.root / "images" / "belle2-base.sif"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("B2CORE_") or k == "B2CORE_REQUIRE_CLUSTERS"}
        env.update(
            PATH=os.pathsep.join([str(STANDIN_BIN), env.get("PATH", os.defpath)]),
            B2CORE_STANDIN_DIR=str(self.state),
            B2CORE_POLL_INTERVAL="0.3",
            B2CORE_SUBMIT_INTERVAL="0.1",
            XDG_CONFIG_HOME=str(self.root / "xdg"),
            HOST_MARKER="from-the-host",
        )
        env.update(extra)
        return env

    def write(self, name: str, body: str) -> Path:
        path = self.root / name
        path.write_text(SCRIPT_HEADER + textwrap.dedent(body))
        return path

    def run(self, script: Path, *flags: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *flags],
            cwd=self.root,
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def apptainer_calls(self) -> list[list[str]]:
        path = self.state / "calls.jsonl"
        if not path.exists():
            return []
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r["argv"] for r in records if r["tool"] == "apptainer"]


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nSTDOUT:\n{result.stdout[-4000:]}\nSTDERR:\n{result.stderr[-4000:]}"


HTCONDOR_STANDIN_BIN = REPO / "tests" / "standins" / "htcondor" / "bin"
