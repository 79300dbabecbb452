"""A CommandRunner that answers from recorded outputs, so a backend's parsing and command lines are
tested without its batch system."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any

from b2core.batch.commands import CommandRunner
from b2core.errors import BatchCommandError


class ScriptedRunner(CommandRunner):
    """Answers each command from a script of (stdout, stderr, returncode) per tool, in order, recording argv.

    A call the script has no answer left for fails the test (KeyError or IndexError), so tests also
    pin down how many commands a backend runs.
    """

    def __init__(self, answers: dict[str, list[tuple[str, str, int]]]) -> None:
        super().__init__()
        self.answers = answers
        self.argvs: list[list[str]] = []

    def run(self, argv: Sequence[Any], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Hand out the tool's next scripted answer; a non-zero one raises when check, as the real runner does."""
        argv = [str(a) for a in argv]
        self.argvs.append(argv)
        self.calls[argv[0]] += 1
        stdout, stderr, code = self.answers[argv[0]].pop(0)
        if kwargs.get("check", True) and code != 0:
            raise BatchCommandError(argv, code, stdout, stderr)
        return subprocess.CompletedProcess(argv, code, stdout, stderr)
