"""Apptainer end to end: real steering scripts whose container tasks run through the stand-in apptainer."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from apptainer_helpers import HTCONDOR_STANDIN_BIN, STANDIN_BIN, Workflow, explain

CONTAINER_TASKS = """
class InContainer(b2luigi.Task):
    number = b2luigi.IntParameter()
    text = b2luigi.Parameter(default="plain")
    apptainer_image = os.path.abspath("images/belle2-base.sif")
    apptainer_mounts = ["{mount}"]
{extra}
    def output(self):
        yield self.add_to_output("seen.json")
        yield self.add_to_output("text.txt")

    def run(self):
        describe_environment(self, self.get_output_file_name("seen.json"))
        with open(self.get_output_file_name("text.txt"), "w") as handle:
            handle.write(self.text)


class OnHost(b2luigi.Task):
    def output(self):
        yield self.add_to_output("host.json")

    def run(self):
        describe_environment(self, self.get_output_file_name("host.json"))


class All(b2luigi.WrapperTask):
    def requires(self):
        yield OnHost()
        yield InContainer(number=1)
        yield InContainer(number=2, text="it's \\"quoted\\" $HOME `date` $(id) ; exit 3")


if __name__ == "__main__":
    b2luigi.process(All(), workers=3)
"""


def container_script(workflow: Workflow, extra: str = "") -> Path:
    mount = workflow.root / "data"
    mount.mkdir(exist_ok=True)
    return workflow.write("steering.py", CONTAINER_TASKS.replace("{mount}", str(mount)).replace("{extra}", extra))


def seen(workflow: Workflow, number: int) -> dict:
    [folder] = [p for p in workflow.root.glob(f"number={number}/text=*") if p.is_dir()]
    return json.loads((folder / "seen.json").read_text())


def exec_calls(workflow: Workflow) -> list[list[str]]:
    return [argv for argv in workflow.apptainer_calls() if argv[1:2] == ["exec"]]


def test_container_tasks_run_in_apptainer_without_batch(workflow: Workflow) -> None:
    result = workflow.run(container_script(workflow))
    assert result.returncode == 0, explain(result)

    host = json.loads((workflow.root / "host.json").read_text())
    assert host["container"] is None, "a task without an image runs in the steering process"
    for number in (1, 2):
        inside = seen(workflow, number)
        assert inside["container"] == str(workflow.image)
        assert inside["host_marker"] == "from-the-host", "without --cleanenv the host environment passes"
        assert inside["cwd"] == str(workflow.root), "the job starts in the script's folder"
    [folder] = [p for p in workflow.root.glob("number=2/text=*") if p.is_dir()]
    assert (folder / "text.txt").read_text() == 'it\'s "quoted" $HOME `date` $(id) ; exit 3'

    calls = exec_calls(workflow)
    assert len(calls) == 2, "one container per container task, none for the other tasks"
    for argv in calls:
        binds = [argv[i + 1] for i, word in enumerate(argv) if word == "--bind"]
        assert binds[0] == str(workflow.root / "data")
        assert str(workflow.root) in binds, "result_dir (and with it logs and task files) is bound by default"
        image_at = argv.index(str(workflow.image))
        assert argv[image_at + 1 : image_at + 3] == ["/bin/bash", "-c"]
        assert argv[image_at + 3].startswith("exec ") and "--batch-runner" in argv[image_at + 3]
    wrapper = next(workflow.root.glob("task_files/number=1/*/InContainer/executable_wrapper.sh")).read_text()
    assert "exec apptainer exec --bind" in wrapper


def test_cleanenv_and_env_script_inside_the_container(workflow: Workflow) -> None:
    env_script = workflow.root / "setup_env.sh"
    env_script.write_text("export ENV_SCRIPT_MARKER=sourced-inside\n")
    extra = f'    apptainer_additional_params = "--cleanenv"\n    env_script = "{env_script}"\n'
    result = workflow.run(container_script(workflow, extra))
    assert result.returncode == 0, explain(result)
    inside = seen(workflow, 1)
    assert inside["container"] == str(workflow.image)
    assert inside["host_marker"] is None and inside["lang"] == "C", "--cleanenv reached apptainer"
    assert inside["env_script_marker"] == "sourced-inside", "env_script is sourced inside the container"
    argv = exec_calls(workflow)[0]
    assert argv[2] == "--cleanenv"
    assert argv[-1].startswith(f"source {env_script} && exec ")
    wrapper = next(workflow.root.glob("task_files/number=1/*/InContainer/executable_wrapper.sh")).read_text()
    assert "\nsource " not in wrapper, "the wrapper itself does not source env_script"


def test_batch_mode_on_the_local_backend(workflow: Workflow) -> None:
    result = workflow.run(container_script(workflow), "--batch", B2CORE_BATCH_SYSTEM="local")
    assert result.returncode == 0, explain(result)
    assert seen(workflow, 1)["container"] == str(workflow.image)
    host = json.loads((workflow.root / "host.json").read_text())
    assert host["container"] is None, "with --batch the plain task is a local job, not a container"
    assert len(exec_calls(workflow)) == 2


def test_missing_image_fails_clearly(workflow: Workflow) -> None:
    workflow.image.unlink()
    result = workflow.run(container_script(workflow))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"apptainer_image {workflow.image} does not exist" in output
    assert not exec_calls(workflow)


def test_apptainer_errors_reach_the_failure_message(workflow: Workflow) -> None:
    """An existing file that is no image passes our check; apptainer's own FATAL line is what the user sees."""
    not_an_image = workflow.root / "images" / "notes.txt"
    not_an_image.write_text("not an image")
    script = container_script(workflow).read_text().replace('"images/belle2-base.sif"', '"images/notes.txt"')
    (workflow.root / "steering.py").write_text(script)
    result = workflow.run(workflow.root / "steering.py")
    assert result.returncode != 0
    assert "image format not recognized" in result.stdout + result.stderr


def test_apptainer_settings_without_an_image_fail_clearly(workflow: Workflow) -> None:
    script = workflow.write(
        "no_image.py",
        """
class Forgotten(b2luigi.Task):
    apptainer_mounts = ["/cvmfs"]

    def output(self):
        yield self.add_to_output("x.txt")

    def run(self):
        open(self.get_output_file_name("x.txt"), "w").close()

if __name__ == "__main__":
    b2luigi.process(Forgotten())
""",
    )
    result = workflow.run(script)
    assert result.returncode != 0
    assert "sets apptainer_mounts but no apptainer_image" in result.stdout + result.stderr
    assert not (workflow.root / "x.txt").exists()


def test_runs_on_the_real_slurm_cluster(slurm_cluster: None, workflow: Workflow) -> None:
    script = workflow.write(
        "on_slurm.py",
        f'''
class OnSlurm(b2luigi.Task):
    number = b2luigi.IntParameter()
    batch_system = "slurm"
    apptainer_image = "{workflow.image}"
    apptainer_cmd = "{STANDIN_BIN / "apptainer"}"
    apptainer_additional_params = "--cleanenv"

    def output(self):
        yield self.add_to_output("seen.json")

    def run(self):
        describe_environment(self, self.get_output_file_name("seen.json"))


class All(b2luigi.WrapperTask):
    def requires(self):
        for number in range(2):
            yield OnSlurm(number=number)


if __name__ == "__main__":
    b2luigi.process(All(), workers=2, batch=True)
''',
    )
    result = workflow.run(script, timeout=180, B2CORE_POLL_INTERVAL="1")
    assert result.returncode == 0, explain(result)
    for number in range(2):
        inside = json.loads((workflow.root / f"number={number}" / "seen.json").read_text())
        assert inside["container"] == str(workflow.image)
        assert inside["lang"] == "C" and inside["host_marker"] is None
    wrapper = (workflow.root / "task_files" / "number=0" / "OnSlurm" / "executable_wrapper.sh").read_text()
    assert f"exec {STANDIN_BIN / 'apptainer'} exec --cleanenv --bind" in wrapper
    with sqlite3.connect(workflow.root / "logs" / ".b2core" / "jobs.sqlite") as db:
        rows = db.execute("SELECT backend, state FROM jobs").fetchall()
    assert rows == [("slurm", "succeeded")] * 2


def test_runs_on_htcondor_through_the_same_hook(workflow: Workflow) -> None:
    """Apptainer composes with a second batch plugin (HTCondor, through its stand-ins) without special cases."""
    script = workflow.write(
        "on_condor.py",
        f'''
class OnCondor(b2luigi.Task):
    number = b2luigi.IntParameter()
    batch_system = "htcondor"
    htcondor_settings = {{"getenv": "True", "request_memory": "200 MB"}}
    apptainer_image = "{workflow.image}"
    apptainer_mounts = ["{workflow.root}"]
    apptainer_mount_defaults = False

    def output(self):
        yield self.add_to_output("seen.json")

    def run(self):
        describe_environment(self, self.get_output_file_name("seen.json"))


class All(b2luigi.WrapperTask):
    def requires(self):
        for number in range(3):
            yield OnCondor(number=number)


if __name__ == "__main__":
    b2luigi.process(All(), workers=3, batch=True)
''',
    )
    path = os.pathsep.join([str(HTCONDOR_STANDIN_BIN), workflow.env()["PATH"]])
    result = workflow.run(script, PATH=path)
    assert result.returncode == 0, explain(result)
    for number in range(3):
        inside = json.loads((workflow.root / f"number={number}" / "seen.json").read_text())
        assert inside["container"] == str(workflow.image)
        assert inside["host_marker"] == "from-the-host" and inside["cwd"] == str(workflow.root)
    calls = [json.loads(line) for line in (workflow.state / "calls.jsonl").read_text().splitlines()]
    assert [c["tool"] for c in calls].count("condor_submit") == 1, "one submission for the three container tasks"
    execs = exec_calls(workflow)
    assert len(execs) == 3
    for argv in execs:
        binds = [argv[i + 1] for i, word in enumerate(argv) if word == "--bind"]
        assert binds == [str(workflow.root)], "apptainer_mount_defaults = False: only the configured mount"
    wrapper = (workflow.root / "task_files" / "number=0" / "OnCondor" / "executable_wrapper.sh").read_text()
    assert "exec apptainer exec --bind" in wrapper
