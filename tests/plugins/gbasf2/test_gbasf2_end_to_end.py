"""gbasf2 end to end: real steering scripts, run as a user would, against the stand-in grid tools."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest
from gbasf2_helpers import BASF2_PYTHON, Grid, control

if str(BASF2_PYTHON) not in sys.path:
    sys.path.insert(0, str(BASF2_PYTHON))

import basf2

ANALYSIS = """
class Analysis(Basf2PathTask):
    batch_system = "gbasf2"
    gbasf2_project_name_prefix = b2luigi.Parameter(significant=False)
    gbasf2_input_dataset = b2luigi.Parameter(hashed=True)
    cut = b2luigi.IntParameter(default=1)

    def create_path(self):
        from variables import variables as vm

        vm.addAlias("p_cms", "useCMSFrame(p)")
        basf2.conditions.globaltags = ["analysis_tag_1"]
        path = basf2.create_path()
        path.add_module("RootInput")
        path.add_module("VariablesToNtuple", particleList="B0", variables=["p_cms"], fileName="B_ntuple.root")
        path.add_module("VariablesToNtuple", particleList="D0", variables=["M"], fileName="D_ntuple.root")
        return path

    def output(self):
        yield self.add_to_output("B_ntuple.root")
        yield self.add_to_output("D_ntuple.root")
"""

MAIN = """
if __name__ == "__main__":
    b2luigi.process([Analysis(gbasf2_project_name_prefix="{prefix}", gbasf2_input_dataset="{dataset}")], workers=2)
"""

DATASET = "/belle/MC/release-06/DB1/mixed/nfiles3/mdst"


def analysis_script(grid: Grid, prefix: str = "b2cTest", dataset: str = DATASET, extra: str = "") -> Path:
    """The standard analysis workflow with optional extra class attributes / settings before the main block."""
    return grid.write("analysis.py", ANALYSIS + extra + MAIN.format(prefix=prefix, dataset=dataset))


def result_folder(grid: Grid) -> Path:
    """<result_dir>/<hashed dataset>/cut=1/ of the standard analysis task."""
    [folder] = [p for p in grid.root.glob("gbasf2_input_dataset=*/cut=1") if p.is_dir()]
    return folder


def log_folder(grid: Grid) -> Path:
    [folder] = list((grid.root / "logs").glob("gbasf2_input_dataset=*/cut=1/Analysis"))
    return folder


def explain(result) -> str:
    return f"exit {result.returncode}\nSTDOUT:\n{result.stdout[-4000:]}\nSTDERR:\n{result.stderr[-4000:]}"


# --- success -------------------------------------------------------------------------------------


def test_project_succeeds_and_datasets_are_downloaded_verified_and_moved(grid: Grid) -> None:
    result = grid.run(analysis_script(grid))
    assert result.returncode == 0, explain(result)

    [project] = grid.projects()
    name = project["name"]
    assert name.startswith("b2cTest") and len(name) == len("b2cTest") + 10
    assert project["input_lfns"] == [DATASET]
    assert len(project["jobs"]) == 3
    assert len(grid.calls("gbasf2")) == 1

    folder = result_folder(grid)
    for stem in ("B_ntuple", "D_ntuple"):
        output = folder / f"{stem}.root"
        assert output.is_dir(), f"{output} must be a folder of grid files"
        files = sorted(p.name for p in output.iterdir())
        assert len(files) == 3 and all(f.startswith(f"{stem}_") and f.endswith(".root") for f in files), files
        assert not (folder / f"{stem}.root.partial").exists()
    content = basf2.read_fake_root(str(next((folder / "B_ntuple.root").iterdir())))
    assert content["aliases"] == {"p_cms": "useCMSFrame(p)"}
    assert content["globaltags"] == ["analysis_tag_1"]
    assert content["path"] == ["RootInput", "VariablesToNtuple", "VariablesToNtuple"]
    assert len(content["input_files"]) == 1

    logs = log_folder(grid) / "gbasf2_logs" / name
    assert sorted(p.name for p in logs.iterdir()) == sorted(project["jobs"])
    assert all((logs / job / "std.out").exists() for job in project["jobs"])
    stdout_log = (log_folder(grid) / "stdout").read_text()
    assert "Successfully submitted 3 jobs" in stdout_log and "gb2_ds_get" in stdout_log

    tools = [argv[0] for argv in grid.calls()]
    assert tools.index("gb2_job_output") < tools.index("gb2_ds_get"), "logs are downloaded before the dataset"
    downloads = grid.calls("gb2_ds_get")
    assert all(argv[1] == "--new" and "--force" in argv for argv in downloads)
    assert {argv[3].rsplit("/", 1)[1] for argv in downloads} == {"B_ntuple_*.root", "D_ntuple_*.root"}
    assert len(grid.calls("gb2_ds_list")) == 2, "every download is verified against the dataset listing"

    again = grid.run(analysis_script(grid))
    assert again.returncode == 0, explain(again)
    assert len(grid.calls("gbasf2")) == 1, "a complete task is not submitted again"


def test_pass_through_options_reach_the_grid(grid: Grid) -> None:
    extras = Path(grid.root / "extra_module.py")
    extras.write_text("VALUE = 1\n")
    extra = """
    gbasf2_noscout = True
    gbasf2_cputime = 30
    gbasf2_evtpersec = 250
    gbasf2_priority = 7
    gbasf2_jobtype = "Skim"
    gbasf2_basf2opt = "-n 5"
    gbasf2_input_grouping = "site"
    gbasf2_additional_files = ["extra_module.py"]
    gbasf2_additional_params = "--banned_site LCG.KEK.jp"
    gbasf2_release = "release-08-01-00"
"""
    script = analysis_script(grid, extra=extra.replace("\n    ", "\n    "))
    result = grid.run(script)
    assert result.returncode == 0, explain(result)
    [argv] = grid.calls("gbasf2")
    assert argv[argv.index("-s") + 1] == "release-08-01-00"
    assert argv[argv.index("--input_grouping") + 1] == "site"
    assert "--basf2opt=-n 5" in argv and "--noscout" in argv and "--force" in argv
    assert argv[argv.index("--priority") + 1] == "7" and argv[argv.index("--jobtype") + 1] == "Skim"
    assert argv[-2:] == ["--banned_site", "LCG.KEK.jp"]
    sandbox = argv[argv.index("-f") + 1 : argv.index("-f") + 3]
    assert [Path(f).name for f in sandbox] == ["serialized_basf2_path.pkl", "extra_module.py"]
    [project] = grid.projects()
    assert project["options"]["input_grouping"] == "site" and project["options"]["banned_site"] == ["LCG.KEK.jp"]
    content = basf2.read_fake_root(str(next((result_folder(grid) / "D_ntuple.root").iterdir())))
    assert content["events"] == 5, "--basf2opt reached basf2 in the grid job"
    assert content["release"] == "release-08-01-00"


def test_custom_steering_file_is_submitted_instead_of_a_pickled_path(grid: Grid) -> None:
    steering = grid.root / "my_steering.py"
    steering.write_text(
        "import basf2\n"
        "path = basf2.create_path()\n"
        "path.add_module('VariablesToNtuple', fileName='ntuple.root', variables=['E'])\n"
        "basf2.process(path)\n"
    )
    script = grid.write(
        "custom.py",
        f'''
class Custom(b2luigi.Task):
    batch_system = "gbasf2"
    gbasf2_project_name_prefix = "custom"
    gbasf2_input_dataset = "{DATASET}"
    gbasf2_custom_steering_file = "my_steering.py"
    gbasf2_print_status_updates = False

    def output(self):
        yield self.add_to_output("ntuple.root")

if __name__ == "__main__":
    b2luigi.process(Custom())
''',
    )
    result = grid.run(script)
    assert result.returncode == 0, explain(result)
    [argv] = grid.calls("gbasf2")
    assert Path(argv[1]).name == "my_steering.py" and "-f" not in argv
    assert "job(s) (" not in result.stdout, "gbasf2_print_status_updates = False silences the job counts"
    assert len(list((grid.root / "ntuple.root").iterdir())) == 3


def test_grid_project_target_keeps_the_dataset_on_the_grid(grid: Grid) -> None:
    script = grid.write(
        "on_grid.py",
        f'''
class OnGrid(Basf2PathTask):
    batch_system = "gbasf2"
    gbasf2_project_name_prefix = "ongrid"
    gbasf2_input_dataset = "{DATASET}"
    gbasf2_download_dataset = False
    gbasf2_download_logs = False

    def create_path(self):
        path = basf2.create_path()
        path.add_module("RootOutput", outputFileName="skim.udst.root")
        return path

    def output(self):
        return Gbasf2GridProjectTarget(get_unique_project_name(self))

if __name__ == "__main__":
    b2luigi.process(OnGrid())
''',
    )
    result = grid.run(script)
    assert result.returncode == 0, explain(result)
    [project] = grid.projects()
    dataset = grid.state / "gbasf2" / "grid" / project["output_dataset"].lstrip("/") / "sub00"
    assert len(list(dataset.glob("skim_*.udst.root"))) == 3
    assert not list(grid.root.glob("**/*.udst.root")), "nothing is downloaded"
    assert not grid.calls("gb2_job_output") and not list(grid.root.glob("logs/**/gbasf2_logs"))
    again = grid.run(script)
    assert again.returncode == 0 and len(grid.calls("gbasf2")) == 1, "the grid target makes the task complete"


def test_group_projects_go_to_the_group_lpn_path(grid: Grid) -> None:
    extra = """
    gbasf2_proxy_group = "b2core-group"
    gbasf2_project_lpn_path = "/belle/group/b2core/prod"
"""
    result = grid.run(analysis_script(grid, extra=extra))
    assert result.returncode == 0, explain(result)
    [argv] = grid.calls("gbasf2")
    [project] = grid.projects()
    assert argv[argv.index("--output_ds") + 1] == f"/belle/group/b2core/prod/{project['name']}"
    assert project["output_dataset"] == f"/belle/group/b2core/prod/{project['name']}"
    assert len(list((result_folder(grid) / "B_ntuple.root").iterdir())) == 3
    assert all(argv[argv.index("-g") + 1] == "b2core-group" for argv in grid.calls("gb2_job_status"))


# --- failures and rescheduling ---------------------------------------------------------------------


def test_failed_jobs_are_rescheduled_up_to_the_limit_then_the_project_fails_with_logs(grid: Grid) -> None:
    control.set_config(fail_jobs="*:1:-1")  # job 1 of every project fails on every attempt
    result = grid.run(analysis_script(grid, extra="    gbasf2_max_retries = 2\n"))
    assert result.returncode != 0, explain(result)

    [project] = grid.projects()
    failing = next(job for job in project["jobs"].values() if job["JobIndex"] == 1)
    failing_id = str(failing["JobID"])
    assert failing["Status"] == "Failed" and failing["RescheduleCounter"] == 2
    reschedules = grid.calls("gb2_job_reschedule")
    assert reschedules == [["gb2_job_reschedule", "--jobid", failing_id, "--force"]] * 2

    logs = log_folder(grid)
    assert json.loads((logs / "n_retries_by_grid_job.json").read_text()) == {failing_id: 2}
    assert (logs / "gbasf2_logs" / project["name"] / failing_id / "std.out").exists(), "logs are downloaded"
    assert not grid.calls("gb2_ds_get"), "a failed project's dataset is not downloaded"
    assert not list(grid.root.glob("gbasf2_input_dataset=*/cut=1/*.root"))
    stderr_log = (logs / "stderr").read_text()
    assert f"job {failing_id}: Failed" in stderr_log and "gbasf2_max_retries = 2" in stderr_log
    assert "failed for good" in result.stdout + result.stderr
    assert len(grid.calls("gbasf2")) == 1

    rerun = grid.run(analysis_script(grid, extra="    gbasf2_max_retries = 2\n"))
    assert rerun.returncode != 0
    assert len(grid.calls("gbasf2")) == 1, "the existing project is monitored again, not resubmitted"
    assert len(grid.calls("gb2_job_reschedule")) == 2, "the retry budget survives the restart"


def test_a_job_that_fails_once_is_rescheduled_and_only_its_newest_output_is_kept(grid: Grid) -> None:
    control.set_config(fail_jobs="*:0:1", keep_failed_output="1")
    result = grid.run(analysis_script(grid, extra="    gbasf2_max_retries = 1\n"))
    assert result.returncode == 0, explain(result)
    assert len(grid.calls("gb2_job_reschedule")) == 1
    files = sorted(p.name for p in (result_folder(grid) / "B_ntuple.root").iterdir())
    assert len(files) == 3
    assert next(f for f in files if f.startswith("B_ntuple_00000_")).endswith("_01.root"), files


def test_application_failure_in_a_done_job_fails_the_project(grid: Grid) -> None:
    control.set_config(fail_jobs="*:0:1:appfail")
    result = grid.run(analysis_script(grid, extra="    gbasf2_max_retries = 3\n"))
    assert result.returncode != 0
    assert "cannot be rescheduled" in (log_folder(grid) / "stderr").read_text()
    assert not grid.calls("gb2_job_reschedule")


def test_incomplete_download_is_retried_then_moved(grid: Grid) -> None:
    control.set_config(download_fail="D_ntuple_00001_*:1")
    result = grid.run(analysis_script(grid, extra='    gbasf2_additional_download_params = "--se DESY-TMP"\n'))
    assert result.returncode == 0, explain(result)
    retries = [argv for argv in grid.calls("gb2_ds_get") if "--input_dslist" in argv]
    assert len(retries) == 1
    assert all(argv[1:3] == ["--se", "DESY-TMP"] and "--new" not in argv for argv in grid.calls("gb2_ds_get"))
    assert len(list((result_folder(grid) / "D_ntuple.root").iterdir())) == 3


def test_download_that_keeps_failing_leaves_nothing_in_place(grid: Grid) -> None:
    control.set_config(download_fail="D_ntuple_00001_*:-1")
    result = grid.run(analysis_script(grid))
    assert result.returncode != 0
    folder = result_folder(grid)
    assert not (folder / "D_ntuple.root").exists()
    assert len(list((folder / "D_ntuple.root.partial").rglob("D_ntuple_*.root"))) == 2
    assert "could not be downloaded" in (log_folder(grid) / "stderr").read_text()


# --- restarts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("forget_job_store", [False, True], ids=["job-store", "no-job-store"])
def test_restart_resumes_monitoring_without_a_second_submission(grid: Grid, forget_job_store: bool) -> None:
    control.set_config(run_seconds=4)
    script = analysis_script(grid)
    first = grid.popen(script)
    deadline = time.time() + 30
    while not any(j["Status"] == "Running" for p in grid.projects() for j in p["jobs"].values()):
        assert time.time() < deadline and first.poll() is None, first.stdout.read() if first.stdout else ""
        time.sleep(0.1)
    first.send_signal(signal.SIGKILL)
    first.wait()
    if forget_job_store:
        (grid.root / "logs" / ".b2core" / "jobs.sqlite").unlink()
    else:
        with sqlite3.connect(grid.root / "logs" / ".b2core" / "jobs.sqlite") as db:
            assert db.execute("SELECT backend, job_id FROM jobs").fetchall() == [("gbasf2", grid.projects()[0]["name"])]

    result = grid.run(script)
    assert result.returncode == 0, explain(result)
    assert len(grid.calls("gbasf2")) == 1, "the restarted run must not submit the project again"
    assert len(list((result_folder(grid) / "B_ntuple.root").iterdir())) == 3
    if forget_job_store:
        assert "already exists" in result.stdout


# --- proxy -----------------------------------------------------------------------------------------


def test_missing_proxy_is_created_with_the_password_from_stdin(grid: Grid) -> None:
    control.set_proxy(None)
    control.set_config(cert_password="s3cret")
    result = grid.run(analysis_script(grid, extra="    gbasf2_proxy_lifetime = 48\n"), input="s3cret\n")
    assert result.returncode == 0, explain(result)
    assert grid.calls("gb2_proxy_init") == [["gb2_proxy_init", "-g", "belle", "-v", "48:00", "--pwstdin"]]
    assert "Certificate password" in result.stderr


def test_expiring_proxy_is_renewed(grid: Grid) -> None:
    control.set_proxy(3600)
    control.set_config(cert_password="s3cret")
    result = grid.run(analysis_script(grid, extra="    gbasf2_min_proxy_lifetime = 2\n"), input="s3cret\n")
    assert result.returncode == 0, explain(result)
    assert grid.calls("gb2_proxy_init") == [["gb2_proxy_init", "-g", "belle", "-v", "24:00", "--pwstdin"]]


def test_wrong_password_fails_clearly_without_submitting(grid: Grid) -> None:
    control.set_proxy(None)
    control.set_config(cert_password="s3cret")
    result = grid.run(analysis_script(grid), input="wrong\nwrong\nwrong\n")
    assert result.returncode != 0
    assert len(grid.calls("gb2_proxy_init")) == 3
    assert "wrong certificate password 3 times" in result.stdout + result.stderr
    assert not grid.calls("gbasf2")


def test_no_password_available_fails_clearly(grid: Grid) -> None:
    control.set_proxy(0)
    result = grid.run(analysis_script(grid), input="")
    assert result.returncode != 0
    assert "no certificate password could be read" in result.stdout + result.stderr
    assert not grid.calls("gbasf2")


# --- settings errors -------------------------------------------------------------------------------


def test_too_long_project_name_fails_with_a_clear_error(grid: Grid) -> None:
    result = grid.run(analysis_script(grid, prefix="a_prefix_that_is_much_too_long"))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "allows at most 32" in output and "at most 22 characters" in output
    assert not grid.calls("gbasf2")


def test_missing_setup_script_fails_with_a_clear_error(grid: Grid) -> None:
    result = grid.run(analysis_script(grid), B2CORE_GBASF2_SETUP_PATH=str(grid.root / "nowhere" / "bashrc"))
    assert result.returncode != 0
    assert "gbasf2_setup_path" in result.stdout + result.stderr
    assert not grid.calls("gbasf2")


def test_gbasf2_is_never_chosen_by_auto(grid: Grid) -> None:
    script = grid.write(
        "plugins.py",
        """
from b2core.plugins import detections
print([(d.name, d.available, d.detail) for d in detections() if d.name == "gbasf2"])
""",
    )
    result = grid.run(script)
    assert "('gbasf2', False, \"gbasf2 is never auto-detected; set batch_system = 'gbasf2'\")" in result.stdout


def test_basf2_path_task_runs_locally_without_gbasf2(grid: Grid) -> None:
    script = grid.write(
        "local.py",
        """
class LocalPath(Basf2PathTask):
    def create_path(self):
        path = basf2.create_path()
        path.add_module("VariablesToNtuple", fileName=self.get_output_file_name("ntuple.root"), variables=["E"])
        return path

    def output(self):
        yield self.add_to_output("ntuple.root")

if __name__ == "__main__":
    b2luigi.process(LocalPath(max_event=7))
""",
    )
    result = grid.run(script)
    assert result.returncode == 0, explain(result)
    content = basf2.read_fake_root(str(grid.root / "ntuple.root"))
    assert content["events"] == 7 and content["path"] == ["VariablesToNtuple", "Progress"]
    assert not grid.calls("gbasf2")


# --- input selection and steering templates ----------------------------------------------------------

SECOND_DATASET = "/belle/MC/release-06/DB1/charged/nfiles2/mdst"


def test_comma_separated_input_datasets_make_one_project_over_all_of_them(grid: Grid) -> None:
    result = grid.run(analysis_script(grid, dataset=f"{DATASET},{SECOND_DATASET}"))
    assert result.returncode == 0, explain(result)
    [argv] = grid.calls("gbasf2")
    assert argv[argv.index("-i") + 1] == f"{DATASET},{SECOND_DATASET}"
    [project] = grid.projects()
    assert project["input_lfns"] == [DATASET, SECOND_DATASET]
    assert len(project["jobs"]) == 5, "three files of the first dataset, two of the second"
    assert len(list((result_folder(grid) / "B_ntuple.root").iterdir())) == 5


def test_input_dslist_file_is_passed_as_an_absolute_path(grid: Grid) -> None:
    (grid.root / "datasets.txt").write_text(f"# my datasets\n{DATASET}\n{SECOND_DATASET}\n")
    script = grid.write(
        "dslist.py",
        """
class FromList(Basf2PathTask):
    batch_system = "gbasf2"
    gbasf2_project_name_prefix = "dslist"
    gbasf2_input_dslist = "datasets.txt"

    def create_path(self):
        path = basf2.create_path()
        path.add_module("VariablesToNtuple", fileName="list_ntuple.root", variables=["E"])
        return path

    def output(self):
        yield self.add_to_output("list_ntuple.root")

if __name__ == "__main__":
    b2luigi.process(FromList())
""",
    )
    result = grid.run(script)
    assert result.returncode == 0, explain(result)
    [argv] = grid.calls("gbasf2")
    assert argv[argv.index("--input_dslist") + 1] == str(grid.root / "datasets.txt") and "-i" not in argv
    [project] = grid.projects()
    assert project["input_lfns"] == [DATASET, SECOND_DATASET]
    assert len(list((grid.root / "list_ntuple.root").iterdir())) == 5


def test_custom_jinja_template_is_the_steering_file_of_the_grid_jobs(grid: Grid) -> None:
    template = grid.root / "my_wrapper.py.jinja"
    template.write_text(
        "import pickle\n"
        "import basf2\n"
        "from basf2 import pickle_path\n"
        "# rendered by jinja: {{ 'custom' | upper }}\n"
        "with open('{{ pickle_file_path }}', 'rb') as handle:\n"
        "    path = pickle_path.deserialize_path(pickle.load(handle))\n"
        "path.add_module('Progress')\n"
        "basf2.process(path, max_event={{ max_event + 2 }})\n"
    )
    extra = f'    gbasf2_jinja_template_path = "{template}"\n    max_event = 1\n'
    result = grid.run(analysis_script(grid, extra=extra))
    assert result.returncode == 0, explain(result)
    [argv] = grid.calls("gbasf2")
    steering = Path(argv[1]).read_text()
    assert "# rendered by jinja: CUSTOM" in steering and "max_event=3" in steering
    content = basf2.read_fake_root(str(next((result_folder(grid) / "B_ntuple.root").iterdir())))
    assert content["path"] == ["RootInput", "VariablesToNtuple", "VariablesToNtuple", "Progress"]
    assert content["events"] == 3 and content["aliases"] == {}, "the custom template did not restore the aliases"


def test_status_updates_are_printed_by_default(grid: Grid) -> None:
    control.set_config(run_seconds=1)
    result = grid.run(analysis_script(grid))
    assert result.returncode == 0, explain(result)
    assert "job(s) (" in result.stdout + result.stderr, "gbasf2_print_status_updates defaults to True"
