"""The `b2core` console script, run as the real installed executable."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

MODULE = """
import os
import b2core as b2luigi

class Number(b2luigi.Task):
    n = b2luigi.IntParameter()
    label = b2luigi.Parameter(default="x")

    def output(self):
        yield self.add_to_output("n.txt")

    def run(self):
        if os.environ.get("FAIL_NUMBER") == str(self.n):
            raise RuntimeError("number failed on purpose")
        with open(self.get_output_file_name("n.txt"), "w") as f:
            f.write(f"{self.n}{self.label}")

class Total(b2luigi.Task):
    count = b2luigi.IntParameter(default=3)
    label = b2luigi.Parameter(default="x")
    verbose = b2luigi.BoolParameter(default=False)

    def requires(self):
        for n in range(self.count):
            yield Number(n=n, label=self.label)

    def output(self):
        yield self.add_to_output("total.txt")

    def run(self):
        names = self.get_input_file_names("n.txt")
        with open(self.get_output_file_name("total.txt"), "w") as f:
            f.write(f"{len(names)} {self.verbose}")
"""


def b2core_command() -> list[str]:
    """The installed console script (next to this interpreter), else the module."""
    script = Path(sys.executable).parent / "b2core"
    if script.exists():
        return [str(script)]
    found = shutil.which("b2core")
    return [found] if found else [sys.executable, "-m", "b2core.cli.main"]


@pytest.fixture
def cli(workflow):
    """Run `b2core ...` in the workflow folder, which holds the task module `mytasks.py`."""
    workflow.write(MODULE, name="mytasks.py")

    def run(*args: str, input: str = "", env: dict[str, str] | None = None):
        return workflow.command([*b2core_command(), *args], input=input, env=env, timeout=180)

    run.workflow = workflow
    return run


def test_console_script_is_installed() -> None:
    """pyproject declares `b2core = b2core.cli.main:main`; the venv has the executable."""
    assert (Path(sys.executable).parent / "b2core").exists() or shutil.which("b2core")


def test_plugins_lists_backends_versions_detection_and_hooks(cli, example_backend, plugin_bin, tmp_path) -> None:
    """Every backend with distribution and version, each detection answer, the hook modules, auto's choice."""
    run = cli("plugins")
    assert run.returncode == 0, run
    lines = run.stdout.splitlines()
    example = next(line for line in lines if line.strip().startswith("example "))
    assert "b2core-example-backend 0.1.0" in example and "b2core_example_backend.backend:ExampleBackend" in example
    assert "not available" in example and "exstat not found" in example
    local = next(line for line in lines if line.strip().startswith("local "))
    assert "b2core 0.1.0" in local
    assert "b2core_example_backend.hooks" in run.stdout and "batch_system = 'auto'" in run.stdout
    detected = cli("plugins", env={"PATH": f"{plugin_bin}:/usr/bin:/bin", "EXAMPLE_QUEUE_DIR": str(tmp_path / "q")})
    example = next(line for line in detected.stdout.splitlines() if line.strip().startswith("example "))
    assert " available (priority 5" in example, detected


def test_plugins_reports_a_broken_hook_module(cli, example_backend) -> None:
    """A misspelled hook makes `b2core plugins` fail loudly, still listing the backends."""
    run = cli("plugins", env={"EXAMPLE_MISSPELLED_HOOK": "1"})
    assert run.returncode == 1, run
    assert "b2core_detect_backends" in run.stderr and "example" in run.stdout


def test_run_builds_the_task_from_parameters_and_runs_it(cli) -> None:
    """`b2core run module:Task --param value`: results in the module's folder; exit codes like process()."""
    flow = cli.workflow
    dry = cli("run", "mytasks:Total", "--count", "2", "--label", "a b", "--dry-run")
    assert dry.returncode == 1 and "Would run Total(count=2, label=a b, verbose=False)" in dry.stdout, dry
    run = cli("run", "mytasks:Total", "--count", "2", "--label", "a b", "--verbose", "--workers", "2")
    assert run.returncode == 0, run
    assert (flow.path / "count=2" / "label=a b" / "verbose=True" / "total.txt").read_text() == "2 True"
    assert (flow.path / "n=1" / "label=a b" / "n.txt").read_text() == "1a b"
    assert cli("run", "mytasks.py:Total", "--count", "2", "--label", "a b", "--verbose", "--dry-run").returncode == 0


def test_run_exits_nonzero_when_a_task_fails(cli) -> None:
    """A failing task gives exit code 1, as with a steering script."""
    run = cli("run", "mytasks:Total", "--count", "2", env={"FAIL_NUMBER": "1"})
    assert run.returncode == 1, run
    assert "number failed on purpose" in run.output


def test_run_rejects_bad_task_specifications(cli) -> None:
    """Unknown parameters, classes and modules are usage errors naming what is wrong."""
    bad_param = cli("run", "mytasks:Total", "--bogus", "3")
    assert bad_param.returncode == 2 and "no parameter 'bogus'" in bad_param.stderr and "--count" in bad_param.stderr
    assert "no task class 'Nope'" in cli("run", "mytasks:Nope").stderr
    assert "Cannot import module 'no_such_module'" in cli("run", "no_such_module:Task").stderr
    assert cli("status", "--no-such-flag").returncode == 2


def test_run_in_batch_mode_and_status_reads_the_job_store(cli, example, queue) -> None:
    """`run --batch` sends jobs that re-enter through `b2core`; `status` lists them and runs nothing."""
    flow = cli.workflow
    empty = cli("status")
    assert empty.returncode == 0 and "No job records" in empty.stdout, empty
    run = cli("run", "mytasks:Total", "--count", "2", "--batch", env={"B2CORE_BATCH_SYSTEM": "example"})
    assert run.returncode == 0, run
    assert (flow.path / "count=2" / "label=x" / "verbose=False" / "total.txt").read_text() == "2 False"
    jobs_before, files_before = len(queue.jobs()), flow.files()
    assert jobs_before == 3
    status = cli("status", "--log-dir", str(flow.path / "logs"))
    assert status.returncode == 0, status
    for job in queue.jobs():
        row = next(line for line in status.stdout.splitlines() if line.startswith(job["name"] + " "))
        assert row.split()[1:5] == ["succeeded", "example", job["id"], "1"], row
    assert "succeeded: 3" in status.stdout and "total: 3" in status.stdout
    assert cli("status").stdout == status.stdout  # the default is the log_dir setting, from here
    assert len(queue.jobs()) == jobs_before and flow.files() == files_before


def test_show_output_and_remove_output(cli) -> None:
    """show-output lists paths; remove-output removes the class and dependants, --only just the class."""
    flow = cli.workflow
    assert cli("run", "mytasks:Total", "--count", "2").returncode == 0
    shown = cli("show-output", "mytasks:Total", "--count", "2")
    assert shown.returncode == 0
    assert str(flow.path / "n=0" / "label=x" / "n.txt") in shown.stdout and "total.txt" in shown.stdout
    refused = cli("remove-output", "mytasks:Total", "--count", "2", "--only", input="n\n")
    assert "No tasks were removed." in refused.stdout
    assert (flow.path / "count=2" / "label=x" / "verbose=False" / "total.txt").exists()
    only = cli("remove-output", "mytasks:Total", "--count", "2", "--only", "-y")
    assert only.returncode == 0, only
    assert not (flow.path / "count=2" / "label=x" / "verbose=False" / "total.txt").exists()
    assert (flow.path / "n=1" / "label=x" / "n.txt").exists()
    confirmed = cli("remove-output", "mytasks:Number", "--n", "1", input="y\n")
    assert confirmed.returncode == 0, confirmed
    assert not (flow.path / "n=1" / "label=x" / "n.txt").exists()
    assert (flow.path / "n=0" / "label=x" / "n.txt").exists()
