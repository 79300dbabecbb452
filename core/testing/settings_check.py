"""The scenario every batch plugin's tests run for its check_settings: a wrong global setting in
settings.json fails the run once at start, naming the setting and the file, with exit code 2.

A plugin's test calls `assert_fails_once_at_start(tmp_path, {"batch_system": ..., <bad setting>}, setting,
message)`, and with `on_class=True` the batch system is named by the task class instead of settings.json
(the check then runs when the first task of that class is scheduled); nothing needs a cluster, since
the run stops before any task is prepared or submitted.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

#: run each scenario twice: batch_system in settings.json, and batch_system on the task class
each_batch_system_place = pytest.mark.parametrize(
    "on_class", [False, True], ids=["batch_system-in-settings-json", "batch_system-on-the-class"]
)

#: five tasks of one family in batch mode: a check made per task would print its error five times
FIVE_TASKS = """
import b2core


class SettingsCheckJob(b2core.Task):
    number = b2core.IntParameter()
    BATCH_SYSTEM_LINE

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


def run_with_settings_file(
    folder: Path, settings: dict[str, Any], on_class: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the five-task workflow in `folder` with `settings` as its settings.json (no B2CORE_ variables),
    or, `on_class`, with its batch_system as an attribute of the task class."""
    settings = dict(settings)
    line = f"batch_system = {settings.pop('batch_system')!r}" if on_class else ""
    (folder / "steering.py").write_text(FIVE_TASKS.replace("BATCH_SYSTEM_LINE", line))
    (folder / "settings.json").write_text(json.dumps(settings))
    keep = ("B2CORE_REQUIRE_CLUSTERS",)
    env = {key: value for key, value in os.environ.items() if not key.startswith("B2CORE_") or key in keep}
    return subprocess.run(
        [sys.executable, "steering.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def assert_fails_once_at_start(
    folder: Path, settings: dict[str, Any], setting: str, message: str, on_class: bool = False
) -> None:
    """Exit 2 before anything runs; `message` once, on a line naming `setting` and the settings file."""
    run = run_with_settings_file(folder, settings, on_class)
    output = run.stdout + run.stderr
    assert run.returncode == 2, output[-3000:]
    assert output.count(message) == 1, output[-3000:]
    [line] = [line for line in output.splitlines() if message in line]
    assert setting in line and str(folder / "settings.json") in line, line
    assert "Traceback" not in output, output[-3000:]
    store = folder / "logs" / ".b2core" / "jobs.sqlite"
    if store.exists():  # made at start in batch mode; a task class's backend is checked after that
        with contextlib.closing(sqlite3.connect(store)) as db:
            assert db.execute("SELECT COUNT(*) FROM jobs").fetchone() == (0,), "nothing was submitted"
    assert not list(folder.glob("number=*")), "no task ran"
