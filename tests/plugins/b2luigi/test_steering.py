"""An unchanged b2luigi project: a steering script in b2luigi's documented style, run through `import b2luigi`."""

from __future__ import annotations

import hashlib

import pytest

# Written from b2luigi's documentation (quick start, task API, settings, dispatch, temporary files).
STEERING = """
import os

import b2luigi
import luigi
from b2luigi.core.utils import product_dict, get_serialized_parameters


class MyNumberTask(b2luigi.Task):
    some_parameter = b2luigi.IntParameter()
    squared = b2luigi.BoolParameter(default=True)
    label = luigi.Parameter(default="a/b", hashed=True)

    def output(self):
        yield self.add_to_output("output_file.txt")

    def run(self):
        value = self.some_parameter ** 2 if self.squared else self.some_parameter
        with open(self.get_output_file_name("output_file.txt"), "w") as f:
            f.write(f"{value}\\n")

    def remove_output(self):
        self._remove_output()


class MyAverageTask(b2luigi.Task):
    def requires(self):
        for kwargs in product_dict(some_parameter=range(3)):
            yield self.clone(MyNumberTask, **kwargs)

    def output(self):
        yield self.add_to_output("average.txt")

    @b2luigi.on_temporary_files
    def run(self):
        numbers = []
        for name in self.get_input_file_names("output_file.txt"):
            with open(name) as f:
                numbers.append(float(f.read()))
        with open(self.get_output_file_name("average.txt"), "w") as f:
            f.write(f"{sum(numbers) / len(numbers)}\\n")


class MyDispatchedTask(b2luigi.DispatchableTask):
    def output(self):
        yield self.add_to_output("pid.txt")

    def process(self):
        print("work done in the child")
        with open(self.get_output_file_name("pid.txt"), "w") as f:
            f.write(str(os.getpid()))


class Everything(b2luigi.WrapperTask):
    def requires(self):
        yield MyAverageTask()
        yield MyDispatchedTask()


if __name__ == "__main__":
    print("steering pid", os.getpid())
    print("folders", dict(get_serialized_parameters(MyNumberTask(some_parameter=1))))
    b2luigi.set_setting("result_dir", "results")
    b2luigi.process(Everything(), workers=2)
"""


@pytest.fixture
def project(workflow):
    """The b2luigi-style project in a scratch folder."""
    workflow.write(STEERING)
    return workflow


def number_files(project) -> set[str]:
    """The number tasks' outputs that exist."""
    return {f for f in project.files("results") if f.endswith("output_file.txt")}


def test_the_project_runs_unchanged(project) -> None:
    run = project.run()
    assert run.returncode == 0, run
    label = "label=hashed_" + hashlib.md5(b"a/b").hexdigest()
    for i in range(3):
        path = project.path / "results" / f"some_parameter={i}" / "squared=True" / label / "output_file.txt"
        assert path.read_text() == f"{i * i}\n"
    assert (project.path / "results" / "average.txt").read_text() == f"{5 / 3}\n"
    steering_pid = run.stdout.split("steering pid ")[1].split()[0]
    assert (project.path / "results" / "pid.txt").read_text() != steering_pid  # process() ran in a child
    assert f"'label': '{label.split('=')[1]}'" in run.stdout


def test_show_output_lists_every_output_and_runs_nothing(project) -> None:
    run = project.run("--show-output")
    assert run.returncode == 0, run
    assert "output_file.txt" in run.stdout and "average.txt" in run.stdout and "pid.txt" in run.stdout
    assert str(project.path / "results" / "average.txt") in run.stdout
    assert not (project.path / "results").exists()


def test_dry_run_names_what_would_run(project) -> None:
    """b2core's documented exit codes: 1 while work is left, 0 when all is done."""
    dry = project.run("--dry-run")
    assert dry.returncode == 1, dry
    assert "\tWould run MyNumberTask(some_parameter=0" in dry.stdout and "In total 6" in dry.stdout
    assert not (project.path / "results").exists()
    assert project.run().returncode == 0
    done = project.run("--dry-run")
    assert done.returncode == 0 and "All tasks are finished!" in done.stdout, done


def test_remove_touches_only_tasks_that_define_remove_output(project) -> None:
    assert project.run().returncode == 0
    run = project.run("--remove", "MyNumberTask", "-y")
    assert run.returncode == 0, run
    assert number_files(project) == set()
    assert "\tNo remove_output() implemented for MyAverageTask." in run.stdout
    assert (project.path / "results" / "average.txt").exists()
    assert "Removed outputs for 3 tasks." in run.stdout
