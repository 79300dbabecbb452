"""process() and the steering script's command line, run for real: flags, exit codes, messages."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

STEERING = """
import json
import os
import sys
import time
import b2core as b2luigi

class MyNumberTask(b2luigi.Task):
    some_parameter = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("output_file.txt")

    def run(self):
        start = time.time()
        time.sleep(float(os.environ.get("SLEEP", "0")))
        with open(self.get_output_file_name("output_file.txt"), "w") as f:
            f.write(f"{self.some_parameter}\\n")
        if "SPY_DIR" in os.environ:
            with open(os.path.join(os.environ["SPY_DIR"], f"times-{self.some_parameter}.json"), "w") as f:
                json.dump([start, time.time()], f)

    def dry_run(self):
        print(f"dry_run() of number {self.some_parameter}")

    def remove_output(self):
        self._remove_output()

class MyAverageTask(b2luigi.Task):
    count = b2luigi.IntParameter(default=3, significant=False)

    def requires(self):
        for i in range(self.count):
            yield self.clone(MyNumberTask, some_parameter=i)

    def output(self):
        yield self.add_to_output("average.txt")

    def run(self):
        numbers = [float(open(p).read()) for p in self.get_input_file_names("output_file.txt")]
        with open(self.get_output_file_name("average.txt"), "w") as f:
            f.write(f"{sum(numbers) / len(numbers)}\\n")

if __name__ == "__main__":
    kwargs = json.loads(os.environ.get("PROCESS_KWARGS", "{}"))
    b2luigi.process(MyAverageTask(count=int(os.environ.get("COUNT", "3"))), **kwargs)
"""


@pytest.fixture
def steering(workflow):
    """The seeds' number/average workflow as a steering script."""
    workflow.write(STEERING)
    return workflow


def number_files(workflow) -> set[str]:
    """Outputs of the number tasks that exist."""
    return {f for f in workflow.files() if f.endswith("output_file.txt")}


def test_local_run_is_the_default_and_puts_results_next_to_the_script(steering) -> None:
    """No settings at all: everything runs on this machine, results in the script's folder, exit 0."""
    run = steering.run()
    assert run.returncode == 0, run
    assert (steering.path / "average.txt").read_text() == "1.0\n"
    assert number_files(steering) == {f"some_parameter={i}/output_file.txt" for i in range(3)}


def test_results_are_relative_to_the_script_not_the_cwd(steering, tmp_path: Path) -> None:
    """Relative result_dir starts at the steering script's folder, whatever the working directory."""
    import subprocess
    import sys

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run(
        [sys.executable, str(steering.path / "steering.py")],
        cwd=elsewhere,
        env=steering.environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (steering.path / "average.txt").exists()
    assert list(elsewhere.iterdir()) == []


def test_dry_run_exits_1_listing_what_would_run_and_0_when_done(steering) -> None:
    """--dry-run prints per family what would run, calls dry_run(), runs nothing; 0 once all is complete."""
    run = steering.run("--dry-run")
    assert run.returncode == 1, run
    for i in range(3):
        assert f"Would run MyNumberTask(some_parameter={i})" in run.stdout
        assert f"dry_run() of number {i}" in run.stdout
    assert "MyAverageTask" in run.stdout and "call: dry_run()" in run.stdout
    assert "In total 4" in run.stdout
    assert steering.files() == {"steering.py"}
    assert steering.run().returncode == 0
    done = steering.run("--dry-run")
    assert done.returncode == 0, done
    assert "All tasks are finished!" in done.stdout and "Would run" not in done.stdout


def test_dry_run_prunes_below_complete_tasks(steering) -> None:
    """Only the incomplete part of the graph is listed."""
    assert steering.run().returncode == 0
    (steering.path / "some_parameter=1" / "output_file.txt").unlink()
    (steering.path / "average.txt").unlink()
    run = steering.run("--dry-run")
    assert run.returncode == 1
    assert "Would run MyNumberTask(some_parameter=1)" in run.stdout
    assert "some_parameter=0)" not in run.stdout and "In total 2" in run.stdout


def test_show_output_lists_every_output_and_runs_nothing(steering) -> None:
    """--show-output prints each output name and its paths; exit 0."""
    run = steering.run("--show-output")
    assert run.returncode == 0, run
    assert "output_file.txt" in run.stdout and "average.txt" in run.stdout
    for i in range(3):
        assert str(steering.path / f"some_parameter={i}" / "output_file.txt") in run.stdout
    assert steering.files() == {"steering.py"}


def test_remove_calls_remove_output_of_the_task_and_what_depends_on_it(steering) -> None:
    """--remove MyNumberTask -y: remove_output() of the numbers; the average defines none, so it keeps its file."""
    assert steering.run().returncode == 0
    run = steering.run("--remove", "MyNumberTask", "-y")
    assert run.returncode == 0, run
    assert "Class: MyNumberTask" in run.stdout and "Class: MyAverageTask" in run.stdout
    assert "\tRemoving output for MyNumberTask(some_parameter=0)" in run.stdout
    assert run.stdout.count("\tcall: remove_output()") == 3
    assert "\tRemoving output for MyAverageTask()" in run.stdout
    assert "\tNo remove_output() implemented for MyAverageTask." in run.stdout
    assert "Removed outputs for 3 tasks." in run.stdout
    assert steering.files() == {"steering.py", "average.txt"}


def test_remove_prints_every_selected_task_even_when_its_files_are_gone(steering) -> None:
    """b2luigi's lines come for each selected task, whether or not anything is left to delete."""
    run = steering.run("--remove-only", "MyNumberTask", "-y")
    assert run.returncode == 0, run
    assert run.stdout.count("\tRemoving output for MyNumberTask") == 3
    assert run.stdout.count("\tcall: remove_output()") == 3


def test_remove_only_removes_just_the_named_class(steering) -> None:
    """--remove-only keeps the outputs of dependent tasks."""
    assert steering.run().returncode == 0
    run = steering.run("--remove-only", "MyNumberTask", "--yes")
    assert run.returncode == 0, run
    assert "MyAverageTask" not in run.stdout
    assert steering.files() == {"steering.py", "average.txt"}


def test_remove_keep_spares_the_given_classes(steering) -> None:
    """--keep names classes whose outputs --remove leaves alone."""
    assert steering.run().returncode == 0
    run = steering.run("--remove", "MyNumberTask", "--keep", "MyAverageTask", "-y")
    assert run.returncode == 0, run
    assert "Keeping MyAverageTask outputs." in run.stdout
    assert "Removing output for MyAverageTask" not in run.stdout
    assert steering.files() == {"steering.py", "average.txt"}


def test_remove_asks_for_confirmation(steering) -> None:
    """Without -y the user is asked; anything but y or yes keeps the outputs."""
    assert steering.run().returncode == 0
    refused = steering.run("--remove-only", "MyNumberTask,NoSuchTask", input="n\n")
    assert "The following tasks were not found in the graph and can't be removed:\n\t- NoSuchTask" in refused.stdout
    assert "The following task outputs will be removed:\n\t- MyNumberTask" in refused.stdout
    assert "Are you sure you want to remove these outputs? [y/N]" in refused.stdout, refused
    assert "No tasks were removed." in refused.stdout
    assert len(number_files(steering)) == 3
    confirmed = steering.run("--remove-only", "MyNumberTask", input="yes\n")
    assert confirmed.returncode == 0, confirmed
    assert number_files(steering) == set()
    assert (steering.path / "average.txt").exists()
    nothing = steering.run("--remove-only", "NoSuchTask", "-y")
    assert nothing.returncode == 0, nothing
    assert "Nothing to remove." in nothing.stdout


def test_test_mode_creates_output_folders_and_runs_in_process(steering) -> None:
    """--test runs everything here with debug logging; open(get_output_file_name()) works (reference bug #4)."""
    run = steering.run("--test")
    assert run.returncode == 0, run
    assert "DEBUG" in run.output
    assert (steering.path / "average.txt").read_text() == "1.0\n"


def test_unknown_arguments_are_an_error(steering) -> None:
    """argparse's exit code 2 and message; nothing runs."""
    run = steering.run("--no-such-flag")
    assert run.returncode == 2, run
    assert "unrecognized arguments: --no-such-flag" in run.stderr
    assert steering.files() == {"steering.py"}


def test_unknown_arguments_are_allowed_when_the_script_says_so(steering) -> None:
    """ignore_additional_command_line_args=True lets scripts take their own flags."""
    run = steering.run(
        "--my-own-flag", "value", env={"PROCESS_KWARGS": '{"ignore_additional_command_line_args": true}'}
    )
    assert run.returncode == 0, run
    assert (steering.path / "average.txt").exists()


def test_failing_task_gives_exit_code_1(steering) -> None:
    """A task whose run() raises makes the process exit non-zero (the reference wrongly exits 0)."""
    (steering.path / "some_parameter=1").mkdir()
    (steering.path / "some_parameter=1" / "output_file.txt").mkdir()  # a folder where a file must go: rename fails
    (steering.path / "some_parameter=1" / "output_file.txt" / "blocker").write_text("")
    run = steering.run()
    assert run.returncode == 1, run
    assert not (steering.path / "average.txt").exists()


def overlapping(spy: Path, count: int) -> bool:
    """Whether any two tasks' run() intervals overlapped."""
    times = sorted(json.loads((spy / f"times-{i}.json").read_text()) for i in range(count))
    return any(later[0] < earlier[1] for earlier, later in itertools.pairwise(times))


def test_workers_flag_runs_tasks_in_parallel(steering, tmp_path: Path) -> None:
    """--workers N runs up to N tasks at once; without it (default 1) they run one after the other."""
    spy = tmp_path / "spy"
    spy.mkdir()
    env = {"SLEEP": "0.6", "SPY_DIR": str(spy)}
    run = steering.run("--workers", "3", env=env)
    assert run.returncode == 0, run
    assert overlapping(spy, 3)
    for path in [*steering.path.glob("some_parameter=*/output_file.txt"), steering.path / "average.txt"]:
        path.unlink()
    run = steering.run(env=env)
    assert run.returncode == 0, run
    assert not overlapping(spy, 3)


def test_central_scheduler_cannot_be_combined_with_dry_run(steering) -> None:
    """--scheduler-host with --dry-run or --test is refused."""
    run = steering.run("--dry-run", "--scheduler-host", "localhost")
    assert run.returncode != 0 and "central scheduler" in run.stderr, run


def test_process_keyword_arguments_work_like_flags(steering) -> None:
    """process(dry_run=True) behaves like --dry-run."""
    run = steering.run(env={"PROCESS_KWARGS": '{"dry_run": true}'})
    assert run.returncode == 1 and "In total 4" in run.stdout, run


SCHEDULING_FAULTS = """
import os
import b2core as b2luigi


class Named(b2luigi.Task):
    text = b2luigi.Parameter()

    def output(self):
        yield self.add_to_output("named.txt")

    def run(self):
        with open(self.get_output_file_name("named.txt"), "w") as f:
            f.write(self.text)


class Ring(b2luigi.Task):
    position = b2luigi.IntParameter()

    def requires(self):
        yield Ring(position=(self.position + 1) % 3)

    def output(self):
        yield self.add_to_output("ring.txt")


class All(b2luigi.WrapperTask):
    def requires(self):
        if os.environ.get("CASE") == "cycle":
            yield Ring(position=0)
        else:
            yield Named(text="x" * 300)


if __name__ == "__main__":
    b2luigi.process(All())
"""


def test_a_parameter_too_long_for_a_file_name_fails_scheduling_with_the_hashed_hint(workflow) -> None:
    """A 300-character value: the path error with the hashed=True hint, counted as failed in the summary."""
    workflow.write(SCHEDULING_FAULTS)
    run = workflow.run(env={"CASE": "long"})
    assert run.returncode == 1, run
    assert "File name too long" not in run.output, run
    assert "more than a file name may have; use text = b2core.Parameter(hashed=True)" in run.stderr, run
    assert "0 failed" not in run.stderr and "1 failed" in run.stderr, run
    assert "===== b2core: 1 task(s) failed =====" in run.stderr, run


def test_a_dependency_cycle_is_named_task_by_task(workflow) -> None:
    """Ring(0) -> Ring(1) -> Ring(2) -> Ring(0): exit 2 naming the ids along the cycle."""
    workflow.write(SCHEDULING_FAULTS)
    run = workflow.run(env={"CASE": "cycle"})
    assert run.returncode == 2, run
    ids = [f"Ring_{n}_" for n in (0, 1, 2, 0)]
    line = next(line for line in run.stderr.splitlines() if "depend on each other in a cycle" in line)
    positions = [line.index(ids[0]), line.index(ids[1]), line.index(ids[2]), line.rindex(ids[3])]
    assert positions == sorted(positions) and positions[0] < positions[3], line


PER_TASK_SETTINGS = """
import b2core


class ShownPerTask(b2core.Task):
    number = b2core.IntParameter()

    @property
    def result_dir(self):  # a property: each task may answer differently
        return "odd" if self.number % 2 else "even"

    def output(self):
        yield self.add_to_output("shown.txt")


class ShownFromFile(b2core.Task):
    def requires(self):
        for number in range(4):
            yield ShownPerTask(number=number)

    def output(self):
        yield self.add_to_output("top.txt")


if __name__ == "__main__":
    b2core.process(ShownFromFile())
"""


def test_show_output_asks_each_task_for_its_own_settings_and_the_settings_file_once(workflow) -> None:
    """A result_dir property answers per task; the others take result_dir and the separator from settings.json."""
    workflow.write(PER_TASK_SETTINGS)
    workflow.write_json("settings.json", '{"result_dir": "fromfile", "parameter_separator": "-"}')
    run = workflow.run("--show-output")
    assert run.returncode == 0, run
    for number in range(4):
        folder = "odd" if number % 2 else "even"
        assert str(workflow.path / folder / f"number-{number}" / "shown.txt") in run.stdout, run
    assert str(workflow.path / "fromfile" / "top.txt") in run.stdout, run
