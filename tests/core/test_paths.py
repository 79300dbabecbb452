"""Output, log and task-file paths: the b2luigi layout, and no parameter value can escape its base folder."""

from __future__ import annotations

import os
from pathlib import Path

import b2core as b2luigi
import pytest
from b2core.errors import OutputPathError
from b2core.paths import log_file_dir, task_file_dir


class Located(b2luigi.Task):
    """A task with two parameters and two outputs, one in a subfolder."""

    run_number = b2luigi.IntParameter()
    label = b2luigi.Parameter(default="x")

    def output(self):
        yield self.add_to_output("out.txt")
        yield self.add_to_output("sub/more.root")


def test_result_layout_is_result_dir_then_parameter_folders_then_file(in_process_folders: Path) -> None:
    """<result_dir>/<p1=v1>/<p2=v2>/<file>, as in b2luigi."""
    task = Located(run_number=3, label="mc")
    results = in_process_folders / "results"
    assert task.get_output_file_name("out.txt") == str(results / "run_number=3" / "label=mc" / "out.txt")
    assert list(task.get_all_output_file_names()) == [
        str(results / "run_number=3" / "label=mc" / "out.txt"),
        str(results / "run_number=3" / "label=mc" / "sub" / "more.root"),
    ]


def test_log_and_task_file_folders_put_the_family_after_the_parameters(in_process_folders: Path) -> None:
    """<log_dir>/<params>/<Family>/ and <task_file_dir>/<params>/<Family>/."""
    task = Located(run_number=3)
    assert log_file_dir(task) == os.path.join(in_process_folders, "logs", "run_number=3", "label=x", "Located", "")
    assert task_file_dir(task) == os.path.join(
        in_process_folders, "task_files", "run_number=3", "label=x", "Located", ""
    )


def test_tasks_may_override_their_log_folder(tmp_path: Path) -> None:
    """A task's own get_log_file_dir() wins (documented b2luigi override)."""

    class OwnLogs(b2luigi.Task):
        def get_log_file_dir(self) -> str:
            return str(tmp_path / "mine")

    assert log_file_dir(OwnLogs()) == str(tmp_path / "mine")


def test_separator_and_value_only_folders_follow_settings(in_process_folders: Path) -> None:
    """parameter_separator and use_parameter_name_in_output change the folder names."""
    results = in_process_folders / "results"
    b2luigi.set_setting("parameter_separator", "-")
    assert Located(run_number=1).get_output_file_name("out.txt") == str(
        results / "run_number-1" / "label-x" / "out.txt"
    )
    b2luigi.set_setting("use_parameter_name_in_output", False)
    assert Located(run_number=2).get_output_file_name("out.txt") == str(results / "2" / "x" / "out.txt")


def test_result_dir_argument_of_add_to_output_is_used_as_is(tmp_path: Path) -> None:
    """add_to_output(result_dir=...) replaces the setting for that output."""

    class Elsewhere(b2luigi.Task):
        def output(self):
            yield self.add_to_output("e.txt", result_dir=str(tmp_path / "other"))

    assert Elsewhere().get_output_file_name("e.txt") == str(tmp_path / "other" / "e.txt")


class Named(b2luigi.Task):
    """A task whose only parameter ends up in its folder name."""

    name = b2luigi.Parameter()

    def output(self):
        yield self.add_to_output("out.txt")


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("a/b", "path separator"),
        ("../../etc", "path separator"),
        ("/etc/passwd", "path separator"),
        ("nul\0byte", "NUL"),
    ],
)
def test_path_escaping_values_are_rejected_naming_task_and_parameter(value: str, why: str) -> None:
    """A value that is not a plain folder name fails with an error naming the task and the parameter."""
    task = Named(name=value)
    with pytest.raises(OutputPathError) as error:
        task.get_output_file_name("out.txt")
    message = str(error.value)
    assert "'name'" in message and task.task_id in message and why in message
    assert "hashed=True" in message


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_empty_and_dot_values_are_folders_of_their_own_in_the_name_layout(value: str, in_process_folders: Path) -> None:
    """name=, name=. and name=.. are ordinary folder names inside result_dir, as in b2luigi."""
    path = Path(Named(name=value).get_output_file_name("out.txt"))
    assert path == in_process_folders / "results" / f"name={value}" / "out.txt"


@pytest.mark.parametrize(("value", "why"), [("", "empty"), (".", "'.'"), ("..", "'..'")])
def test_empty_and_dot_values_are_rejected_where_the_folder_is_the_value_alone(value: str, why: str) -> None:
    """With use_parameter_name_in_output=False the folder would be '', '.' or '..': refused."""

    class ValueOnly(b2luigi.Task):
        use_parameter_name_in_output = False
        name = b2luigi.Parameter()

        def output(self):
            yield self.add_to_output("out.txt")

    task = ValueOnly(name=value)
    with pytest.raises(OutputPathError) as error:
        task.get_output_file_name("out.txt")
    assert "'name'" in str(error.value) and why in str(error.value)


def test_hashing_makes_any_value_safe(in_process_folders: Path) -> None:
    """hashed=True is the documented way to use such values."""

    class HashedName(b2luigi.Task):
        name = b2luigi.Parameter(hashed=True)

        def output(self):
            yield self.add_to_output("out.txt")

    path = Path(HashedName(name="../../etc").get_output_file_name("out.txt"))
    assert path.parent.parent == in_process_folders / "results"
    assert path.parent.name.startswith("name=hashed_")


@pytest.mark.parametrize("name", ["../escape.txt", "/tmp/absolute.txt", "a/../../b.txt", "nul\0.txt"])
def test_output_names_must_stay_inside_the_task_folder(name: str) -> None:
    """add_to_output refuses file names that would leave the result folder."""

    class BadOutput(b2luigi.Task):
        def output(self):
            yield self.add_to_output(name)

    with pytest.raises(OutputPathError, match="BadOutput"):
        list(BadOutput().get_all_output_file_names())


def test_path_escaping_value_on_the_command_line_fails_and_writes_nothing_outside(workflow) -> None:
    """Through a real steering script: non-zero exit, the error names the parameter, nothing lands outside."""
    workflow.write(
        """
        import os
        import b2core as b2luigi

        class Escape(b2luigi.Task):
            target = b2luigi.Parameter()

            def output(self):
                yield self.add_to_output("out.txt")

            def run(self):
                with open(self.get_output_file_name("out.txt"), "w") as f:
                    f.write("escaped")

        class Fine(b2luigi.Task):
            def output(self):
                yield self.add_to_output("fine.txt")

            def run(self):
                with open(self.get_output_file_name("fine.txt"), "w") as f:
                    f.write("ok")

        class Both(b2luigi.WrapperTask):
            def requires(self):
                yield Fine()
                yield Escape(target=os.environ["TARGET"])

        if __name__ == "__main__":
            b2luigi.set_setting("result_dir", "results")
            b2luigi.process(Both(), workers=2)
        """
    )
    parent = workflow.path.parent
    before = set(os.listdir(parent))
    for value in ["../../outside", "/tmp/absolute"]:
        run = workflow.run(env={"TARGET": value})
        assert run.returncode == 1, run
        assert "Parameter 'target'" in run.output and "Escape" in run.output, run
    assert set(os.listdir(parent)) == before
    assert not (parent / "outside").exists()
    assert {f for f in workflow.files() if not f.startswith("results/")} == {"steering.py"}
