"""The scenario every batch plugin's tests run for its check_settings: a wrong global setting in
settings.json fails the run once at start, naming the setting and the file, with exit code 2.

A plugin's test calls `assert_fails_once_at_start(tmp_path, {"batch_system": ..., <bad setting>}, setting,
message)`; nothing needs a cluster, since the run stops before any task is prepared or submitted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

#: five tasks of one family in batch mode: a check made per task would print its error five times
FIVE_TASKS = """
import b2core


class SettingsCheckJob(b2core.Task):
    number = b2core.IntParameter()

    def output(self):
        yield self.add_to_output("out.txt")

    def run(self):
        with open(self.get_output_file_name("out.txt"), "w") as f:
            f.write("done")


class SettingsCheckAll(b2core.WrapperTask):
    def requires(self):
        for number in range(5):
            yield SettingsCheckJob(number=number)


if __name__ == "__main__":
    b2core.process(SettingsCheckAll(), batch=True)
"""


def run_with_settings_file(folder: Path, settings: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Run the five-task workflow in `folder` with `settings` as its settings.json (no B2CORE_ variables)."""
    (folder / "steering.py").write_text(FIVE_TASKS)
    (folder / "settings.json").write_text(json.dumps(settings))
    keep = ("B2CORE_REQUIRE_CLUSTERS",)
    env = {key: value for key, value in os.environ.items() if not key.startswith("B2CORE_") or key in keep}
    return subprocess.run(
        [sys.executable, "steering.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def assert_fails_once_at_start(folder: Path, settings: dict[str, Any], setting: str, message: str) -> None:
    """Exit 2 before anything runs; `message` once, on a line naming `setting` and the settings file."""
    run = run_with_settings_file(folder, settings)
    output = run.stdout + run.stderr
    assert run.returncode == 2, output[-3000:]
    assert output.count(message) == 1, output[-3000:]
    [line] = [line for line in output.splitlines() if message in line]
    assert setting in line and str(folder / "settings.json") in line, line
    assert "Traceback" not in output, output[-3000:]
    assert not (folder / "logs" / ".b2core" / "jobs.sqlite").exists(), "nothing was submitted"
    assert not list(folder.glob("number=*")), "no task ran"
