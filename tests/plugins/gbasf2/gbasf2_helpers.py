"""Helpers of the gbasf2 tests: the stand-in grid of one test and how to run steering scripts against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
STANDIN = REPO / "tests" / "standins" / "gbasf2"
BASF2_PYTHON = REPO / "tests" / "standins" / "basf2" / "python"

if str(STANDIN) not in sys.path:
    sys.path.insert(0, str(STANDIN))

from gb2standin import control  # noqa: E402, F401  (re-exported for the tests)

SCRIPT_HEADER = """
import os
import sys

import b2core as b2luigi
from b2core_gbasf2 import Basf2PathTask, Gbasf2GridProjectTarget, get_unique_project_name

import basf2
"""


@dataclass
class Grid:
    """One test's stand-in grid and a way to run steering scripts against it."""

    root: Path
    state: Path
    setup: Path

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a steering process: stand-in basf2 importable, fast polling, this grid."""
        env = dict(os.environ)
        for name in list(env):
            if name.startswith("B2CORE_") and name not in ("B2CORE_REQUIRE_CLUSTERS",):
                del env[name]
        env.update(
            PYTHONPATH=os.pathsep.join([str(BASF2_PYTHON), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            B2CORE_STANDIN_DIR=str(self.state),
            B2CORE_POLL_INTERVAL="0.3",
            B2CORE_SUBMIT_INTERVAL="0.1",
            B2CORE_BATCH_COMMAND_RETRY_WAIT="0.1",
            B2CORE_GBASF2_SETUP_PATH=str(self.setup),
            XDG_CONFIG_HOME=str(self.root / "xdg"),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def write(self, name: str, body: str) -> Path:
        """Write a steering script (the common imports are prepended)."""
        path = self.root / name
        path.write_text(SCRIPT_HEADER + textwrap.dedent(body))
        return path

    def run(
        self, script: Path, *flags: str, input: str | None = None, timeout: float = 60, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run a steering script to its end, as a user would."""
        return subprocess.run(
            [sys.executable, str(script), *flags],
            cwd=self.root,
            env=self.env(**env),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, script: Path, *flags: str, **env: str) -> subprocess.Popen[str]:
        """Start a steering script in the background (for restart tests)."""
        return subprocess.Popen(
            [sys.executable, str(script), *flags],
            cwd=self.root,
            env=self.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def calls(self, tool: str | None = None) -> list[list[str]]:
        """argv of every stand-in call so far (of one tool)."""
        path = self.state / "calls.jsonl"
        if not path.exists():
            return []
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [r["argv"] for r in records if tool is None or r["tool"] == tool]

    def projects(self) -> list[dict[str, Any]]:
        """Every project the stand-in grid knows."""
        return [json.loads(p.read_text()) for p in sorted((self.state / "gbasf2" / "projects").glob("*.json"))]
