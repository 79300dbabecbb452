"""The job wrapper script quotes every value: hostile parameter, env and argument values arrive unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import b2core as b2luigi
import pytest
from b2core.hookspecs import JobCommand, hookimpl

EVIL = "it's \"quoted\" $(touch pwned) `touch pwned2` ; touch pwned3 & $HOME \\ \n second line\t'"

STEERING = """
import json
import os
import sys
import b2core as b2luigi

EVIL = json.loads(os.environ["EVIL_JSON"])

class Hostile(b2luigi.Task):
    value = b2luigi.Parameter(hashed=True)
    task_cmd_additional_args = ["--extra", EVIL]
    job_name = EVIL

    @property
    def env(self):
        return {"EVIL_ENV": EVIL, "PLAIN": "plain value"}

    def output(self):
        yield self.add_to_output("seen.json")

    def run(self):
        seen = {
            "parameter": self.value,
            "env": os.environ.get("EVIL_ENV"),
            "plain": os.environ.get("PLAIN"),
            "last_argument": sys.argv[-1],
            "pid": os.getpid(),
        }
        with open(self.get_output_file_name("seen.json"), "w") as f:
            json.dump(seen, f)

if __name__ == "__main__":
    b2luigi.set_setting("batch_system", os.environ["BACKEND"])
    print("steering pid", os.getpid())
    b2luigi.process(Hostile(value=EVIL), batch=True, ignore_additional_command_line_args=True)
"""


@pytest.mark.parametrize("backend", ["example", "local"])
def test_hostile_values_arrive_unchanged_and_execute_nothing(example, tmp_path: Path, backend: str) -> None:
    """Spaces, quotes, $(), backticks, newlines: the job sees exactly the value; no `pwned` file appears."""
    example.write(STEERING)
    run = example.run(env={"EVIL_JSON": json.dumps(EVIL), "BACKEND": backend})
    assert run.returncode == 0, run
    [seen_file] = example.path.glob("value=hashed_*/seen.json")
    seen = json.loads(seen_file.read_text())
    assert seen["parameter"] == EVIL
    assert seen["env"] == EVIL
    assert seen["plain"] == "plain value"
    assert seen["last_argument"] == EVIL
    assert str(seen["pid"]) not in run.stdout.split("steering pid", 1)[1].split("\n", 1)[0]
    assert not [p for p in tmp_path.rglob("pwned*")]
    assert not list(Path.cwd().glob("pwned*"))
    wrapper = next(example.path.glob("task_files/value=*/Hostile/executable_wrapper.sh")).read_text()
    assert "export EVIL_ENV=" in wrapper


class _Timing:
    """A site plugin that times every job command, registered after any installed plugin."""

    @hookimpl(trylast=True)
    def b2core_wrap_command(self, command: JobCommand) -> JobCommand:
        return JobCommand(["/usr/bin/time", "-v", *command.argv], command.env_script, command.expandable + 2)


class _Nice:
    @hookimpl(tryfirst=True)
    def b2core_wrap_command(self, task, command: JobCommand) -> JobCommand | None:
        if task.get_task_family() != "Wrapped":
            return None
        return JobCommand(["nice", "-n", "5", *command.argv], command.env_script, command.expandable + 3)


class Wrapped(b2luigi.Task):
    def output(self):
        yield self.add_to_output("out.txt")


def test_command_wrappers_of_several_plugins_compose() -> None:
    """Two plugins' wrappers both apply, innermost the tryfirst one, instead of the first one winning."""
    from b2core.batch.wrapper import write_wrapper
    from b2core.plugins import plugin_manager

    manager = plugin_manager()
    manager.register(_Timing(), name="test-timing")
    manager.register(_Nice(), name="test-nice")
    try:
        script = write_wrapper(Wrapped()).read_text()
    finally:
        manager.unregister(name="test-timing")
        manager.unregister(name="test-nice")
    [exec_line] = [line for line in script.splitlines() if line.startswith("exec ")]
    assert exec_line.startswith("exec /usr/bin/time -v nice -n 5 "), exec_line
