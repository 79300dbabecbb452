"""Running tasks: dispatch to a child process, the --batch-runner entry point, dynamic dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

DISPATCH = """
import os
import b2core as b2luigi

class Crashing(b2luigi.DispatchableTask, b2luigi.Task):
    def output(self):
        yield self.add_to_output("never.txt")

    def process(self):
        with open(self.get_output_file_name("never.txt"), "w") as f:
            f.write("half")
        os.abort()  # like a segfault in native code

class Healthy(b2luigi.DispatchableTask):  # a Task itself, as in b2luigi
    number = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("pid.txt")

    def process(self):
        print("hello from the child")
        with open(self.get_output_file_name("pid.txt"), "w") as f:
            f.write(str(os.getpid()))

class Decorated(b2luigi.Task):
    def output(self):
        yield self.add_to_output("decorated.txt")

    @b2luigi.dispatch
    def run(self):
        with open(self.get_output_file_name("decorated.txt"), "w") as f:
            f.write(str(os.getpid()))

class All(b2luigi.WrapperTask):
    def requires(self):
        yield Crashing()
        yield Decorated()
        for number in range(2):
            yield Healthy(number=number)

if __name__ == "__main__":
    print("steering pid", os.getpid())
    b2luigi.set_setting("result_dir", "results")
    b2luigi.process(All(), workers=2)
"""


def test_dispatched_crash_fails_the_task_not_the_scheduler(workflow) -> None:
    """os.abort() in a dispatched process() fails that task; the others finish; exit code 1; logs kept."""
    workflow.write(DISPATCH)
    run = workflow.run()
    assert run.returncode == 1, run
    steering_pid = run.stdout.split("steering pid ", 1)[1].split()[0]
    results = workflow.path / "results"
    assert not (results / "never.txt").exists()
    for number in range(2):
        child_pid = (results / f"number={number}" / "pid.txt").read_text()
        assert child_pid != steering_pid
    assert (results / "decorated.txt").read_text() != steering_pid
    assert "Crashing" in run.output and "-6" in run.output, run
    stdout = workflow.path / "logs" / "number=0" / "Healthy" / "stdout"
    assert "hello from the child" in stdout.read_text()
    assert (workflow.path / "logs" / "Crashing" / "stderr").exists()


BATCH_RUNNER = """
import os
import b2core as b2luigi

class Leaf(b2luigi.Task):
    number = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("leaf.txt")

    def run(self):
        with open(self.get_output_file_name("leaf.txt"), "w") as f:
            f.write(str(self.number))

class Root(b2luigi.WrapperTask):
    def requires(self):
        for number in range(3):
            yield Leaf(number=number)

if __name__ == "__main__":
    if os.environ.get("PRINT_IDS"):
        print(json.dumps([t.task_id for t in Root().requires()]))
    else:
        b2luigi.process(Root())
"""


def test_batch_runner_runs_exactly_the_requested_task(workflow) -> None:
    """--batch-runner --task-id runs one task of the graph (what a job does), nothing else."""
    workflow.write("import json\n" + BATCH_RUNNER)
    ids = json.loads(workflow.run(env={"PRINT_IDS": "1"}).stdout)
    run = workflow.run("--batch-runner", "--task-id", ids[1])
    assert run.returncode == 0, run
    assert workflow.files() == {"steering.py", "number=1/leaf.txt"}
    bad = workflow.run("--batch-runner", "--task-id", "Leaf_99_0123456789")
    assert bad.returncode != 0 and "does not exist" in bad.output, bad


DYNAMIC = """
import b2core as b2luigi

class Dependency(b2luigi.Task):
    def output(self):
        yield self.add_to_output("dependency.txt")

    def run(self):
        with open(self.get_output_file_name("dependency.txt"), "w") as f:
            f.write("7")

class Dynamic(b2luigi.Task):
    def output(self):
        yield self.add_to_output("dynamic.txt")

    def run(self):
        dependency = Dependency()
        yield dependency
        value = open(dependency.get_output_file_name("dependency.txt")).read()
        with open(self.get_output_file_name("dynamic.txt"), "w") as f:
            f.write(value * 2)

if __name__ == "__main__":
    b2luigi.process(Dynamic(), workers=2)
"""


def test_dynamic_dependencies_in_local_runs(workflow) -> None:
    """yield in run() schedules the dependency and resumes, as in luigi."""
    workflow.write(DYNAMIC)
    run = workflow.run()
    assert run.returncode == 0, run
    assert (workflow.path / "dynamic.txt").read_text() == "77"


def test_public_names_are_b2core_classes() -> None:
    """luigi's names are re-exported without shadowing b2core's own Task, targets and parameters."""
    code = (
        "import luigi, b2core, b2core.task, b2core.targets; "
        "assert b2core.Task is b2core.task.Task and b2core.Task is not luigi.Task; "
        "assert b2core.ExternalTask is b2core.task.ExternalTask and b2core.WrapperTask is b2core.task.WrapperTask; "
        "assert b2core.LocalTarget is b2core.targets.LocalTarget; "
        "assert b2core.IntParameter is not luigi.IntParameter; "
        "assert b2core.build is luigi.build and b2core.Event is luigi.Event"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


RUN_TIME_CHECKS = """
import os
import b2core as b2luigi

class Present(b2luigi.Task):
    def output(self):
        yield self.add_to_output("present.txt")

    def run(self):
        with open(self.get_output_file_name("present.txt"), "w") as f:
            f.write("ran")

class Deleter(b2luigi.Task):
    def output(self):
        yield self.add_to_output("deleter.txt")

    def run(self):
        self.set_status_message("half way")
        self.set_progress_percentage(50)
        os.remove(Present().get_output_file_name("present.txt"))
        with open(self.get_output_file_name("deleter.txt"), "w") as f:
            f.write("done")

class Dependent(b2luigi.Task):
    def requires(self):
        yield Deleter()
        yield Present()

    def output(self):
        yield self.add_to_output("dependent.txt")

    def run(self):
        with open(self.get_output_file_name("dependent.txt"), "w") as f:
            f.write("never")

if __name__ == "__main__":
    b2luigi.set_setting("result_dir", "results")
    os.makedirs("results", exist_ok=True)
    with open(Present().get_output_file_name("present.txt"), "w") as f:
        f.write("before")
    try:
        b2luigi.process(Dependent())
    finally:
        print("after the run:", Deleter().set_status_message, Deleter().set_progress_percentage)
"""


def test_dependencies_are_checked_again_before_a_task_runs(workflow) -> None:
    """A dependency complete while scheduling but gone when its dependant is about to run fails the
    dependant (luigi's run-time check, which the worker skips only for dependencies it ran itself); the
    reporter callbacks work inside run() and are None afterwards."""
    workflow.write(RUN_TIME_CHECKS)
    run = workflow.run()
    assert run.returncode == 1, run
    assert "Unfulfilled dependency at run time: Present" in run.output, run
    assert (workflow.path / "results" / "deleter.txt").read_text() == "done"
    assert not (workflow.path / "results" / "dependent.txt").exists()
    assert "after the run: None None" in run.stdout, run
