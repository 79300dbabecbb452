"""What a run checks before it starts and how --test and --show-output behave, through steering scripts."""

from __future__ import annotations

import json
from pathlib import Path

STEERING = """
import json
import os
import b2core as b2luigi

class Number(b2luigi.Task):
    n = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("pid.txt")

    def run(self):
        with open(self.get_output_file_name("pid.txt"), "w") as f:
            f.write(str(os.getpid()))

class Elsewhere(Number):
    batch_system = os.environ.get("ELSEWHERE", "test")

class All(b2luigi.WrapperTask):
    def requires(self):
        for n in range(int(os.environ.get("COUNT", "3"))):
            yield Number(n=n)
        if "ELSEWHERE" in os.environ:
            yield Elsewhere(n=99)

if __name__ == "__main__":
    print("steering pid", os.getpid())
    b2luigi.process(All(), workers=3, **json.loads(os.environ.get("PROCESS_KWARGS", "{}")))
"""


def pids(workflow) -> dict[str, int]:
    return {p.parent.name: int(p.read_text()) for p in workflow.path.glob("*/pid.txt")}


def steering_pid(run) -> int:
    return int(next(line for line in run.stdout.splitlines() if line.startswith("steering pid")).split()[-1])


def test_test_flag_runs_every_task_in_this_process_with_debug_logging(workflow) -> None:
    """--test: no child process per task even with workers=3, luigi's DEBUG lines on stderr."""
    workflow.write(STEERING)
    run = workflow.run("--test")
    assert run.returncode == 0, run
    assert set(pids(workflow).values()) == {steering_pid(run)}, run
    assert "DEBUG:" in run.stderr, run


def test_test_flag_still_sends_a_class_naming_its_batch_system_there(workflow) -> None:
    """A class attribute batch_system beats --test as it beats a plain local run: that task becomes a job."""
    workflow.write(STEERING)
    run = workflow.run("--test", env={"ELSEWHERE": "test"})
    assert run.returncode == 0, run
    found = pids(workflow)
    assert found.pop("n=99") != steering_pid(run), "the test backend ran it as a job"
    assert set(found.values()) == {steering_pid(run)}
    assert (workflow.path / "logs" / ".b2core" / "jobs.sqlite").exists()


def test_no_batch_system_found_is_one_error_at_start(workflow, no_batch_commands) -> None:
    """--batch with `auto` and nothing detected: one message, exit 2, no task scheduled or failed one by one."""
    workflow.write(STEERING)
    run = workflow.run("--batch", env={"PATH": no_batch_commands})
    assert run.returncode == 2, run
    assert run.output.count("found no usable batch system") == 1, run
    assert "Scheduled" not in run.output and not pids(workflow), run


def test_wrong_typed_task_attribute_fails_the_run_at_start(workflow) -> None:
    """A class attribute setting of the wrong type stops the run before any task runs, naming it and its class."""
    wrong = "class Elsewhere(Number):\n    max_resubmissions = 'x'"
    workflow.write(STEERING.replace("class Elsewhere(Number):", wrong))
    run = workflow.run(env={"ELSEWHERE": "local"})
    assert run.returncode == 2, run
    assert "Setting 'max_resubmissions' from attribute 'max_resubmissions' of task Elsewhere" in run.stderr, run
    assert not pids(workflow), "nothing ran: the check comes before the first task"


def test_show_output_marks_existence_in_words_when_piped(workflow) -> None:
    """Without a terminal the colours are gone; each path still says whether its file exists."""
    workflow.write(STEERING)
    assert workflow.run(env={"COUNT": "1"}).returncode == 0
    workflow.write(STEERING.replace('os.environ.get("COUNT", "3")', '"2"'), name="two.py")
    run = workflow.run("--show-output", script="two.py")
    assert run.returncode == 0, run
    lines = [line.split() for line in run.stdout.splitlines() if line.startswith("\t")]
    assert [mark for mark, _ in lines] == ["exists", "missing"], run
    assert "\033[" not in run.stdout
    assert json.dumps(sorted(Path(path).parent.name for _, path in lines)) == '["n=0", "n=1"]'
