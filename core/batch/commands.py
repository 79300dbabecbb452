"""Running batch system commands: one place that logs, counts and turns failures into errors."""

from __future__ import annotations

import logging
import subprocess
from collections import Counter
from collections.abc import Sequence

from b2core.errors import BatchCommandError

logger = logging.getLogger("b2core.batch")


class CommandRunner:
    """Runs commands like sbatch or condor_q and keeps a count per command for diagnostics."""

    def __init__(self, timeout: float = 300.0) -> None:
        self.timeout = timeout
        self.calls: Counter[str] = Counter()

    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command and return its output; a non-zero exit raises BatchCommandError when check."""
        argv = [str(a) for a in argv]
        self.calls[argv[0]] += 1
        logger.debug("running %s", " ".join(argv))
        try:
            result = subprocess.run(
                argv, cwd=cwd, input=input, env=env, capture_output=True, text=True, timeout=self.timeout
            )
        except FileNotFoundError:
            raise BatchCommandError(argv, 127, stderr=f"{argv[0]}: command not found") from None
        except subprocess.TimeoutExpired:
            raise BatchCommandError(argv, -1, stderr=f"no answer within {self.timeout} s") from None
        if check and result.returncode != 0:
            raise BatchCommandError(argv, result.returncode, result.stdout, result.stderr)
        return result
