"""gbasf2 pieces on their own: project names, the submit command, parsing the tools' output, steering files."""

from __future__ import annotations

import hashlib
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import b2core
import luigi
import pytest
from b2core.errors import SettingsError
from b2core.settings import set_setting
from b2core.testing.settings_check import assert_fails_once_at_start, each_batch_system_place
from b2core_gbasf2.grid import GridJob, parse_job_status, parse_proxy_info, unique_lfns
from b2core_gbasf2.hooks import b2core_detect_backend
from b2core_gbasf2.project import (
    get_unique_project_name,
    input_options,
    pickle_basf2_path,
    render_steering_wrapper,
    submit_command,
)
from gbasf2_helpers import BASF2_PYTHON, STANDIN

RECORDED = STANDIN / "recorded"


class GridTask(b2core.Task):
    """A task with settings as class attributes, as users write them."""

    gbasf2_project_name_prefix = "myProject_"
    gbasf2_input_dataset = "/belle/MC/a/mdst,/belle/MC/b/mdst"
    gbasf2_release = "release-08-00-00"
    number = luigi.IntParameter(default=1)


def make(cls: type = GridTask, **attributes: object) -> b2core.Task:
    return type(cls.__name__, (cls,), attributes)()


# --- project names ---------------------------------------------------------------------------------


def test_project_name_is_prefix_plus_hash_of_task_id() -> None:
    task = make()
    expected = "myProject_" + hashlib.md5(task.task_id.encode()).hexdigest()[:10]
    assert get_unique_project_name(task) == expected
    set_setting("gbasf2_project_name_hash_length", 6)
    assert get_unique_project_name(task) == expected[: len("myProject_") + 6]
    other = type("GridTask", (GridTask,), {})(number=2)
    assert get_unique_project_name(other) != expected


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("a" * 23, "allows at most 32"),
        ("with space", "may only contain letters, digits"),
        ("dots.are.bad", "may only contain letters, digits"),
        ("", "needs the setting gbasf2_project_name_prefix"),
    ],
)
def test_bad_project_names_fail_clearly(prefix: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        get_unique_project_name(make(gbasf2_project_name_prefix=prefix))


def test_hash_length_is_limited() -> None:
    set_setting("gbasf2_project_name_hash_length", 12)
    with pytest.raises(SettingsError, match="between 6 and 10"):
        get_unique_project_name(make())


# --- the submit command ----------------------------------------------------------------------------


def test_every_pass_through_option_appears_in_the_submit_command(tmp_path: Path) -> None:
    extra = tmp_path / "helper.py"
    extra.write_text("")
    task = make(
        gbasf2_noscout=True,
        gbasf2_additional_files=[str(extra)],
        gbasf2_input_datafiles=["/belle/a.root", "/belle/b.root"],
        gbasf2_n_repition_job=3,
        gbasf2_force_submission=True,
        gbasf2_cputime=120,
        gbasf2_evtpersec=55.5,
        gbasf2_priority=10,
        gbasf2_jobtype="Skim",
        gbasf2_basf2opt="-n 100 --random-seed 7",
        gbasf2_lfn_sandboxfiles=False,
        gbasf2_input_grouping="site",
        gbasf2_additional_params="--banned_site LCG.KEK.jp --site 'OSG.BNL.us'",
    )
    argv = submit_command(task, "proj", "/tf/steering.py", ["/tf/path.pkl", str(extra)], "/belle/group/x/proj")
    assert argv == [
        "gbasf2",
        "/tf/steering.py",
        "-p",
        "proj",
        "-s",
        "release-08-00-00",
        "-f",
        "/tf/path.pkl",
        str(extra),
        "--noscout",
        "-i",
        "/belle/MC/a/mdst,/belle/MC/b/mdst",
        "--repetition",
        "3",
        "--input_datafiles",
        "/belle/a.root",
        "/belle/b.root",
        "--force",
        "--cputime",
        "120",
        "--evtpersec",
        "55.5",
        "--priority",
        "10",
        "--jobtype",
        "Skim",
        "--basf2opt=-n 100 --random-seed 7",
        "--input_grouping",
        "site",
        "--output_ds",
        "/belle/group/x/proj",
        "--banned_site",
        "LCG.KEK.jp",
        "--site",
        "OSG.BNL.us",
    ]


def test_minimal_submit_command_and_defaults() -> None:
    argv = submit_command(make(), "proj", "steering.py", [])
    assert argv == ["gbasf2", "steering.py", "-p", "proj", "-s", "release-08-00-00", "-i",
                    "/belle/MC/a/mdst,/belle/MC/b/mdst", "--force"]  # fmt: skip
    assert "--force" not in submit_command(make(gbasf2_force_submission=False), "proj", "steering.py", [])


def test_lfn_sandbox_files_are_passed_as_they_are() -> None:
    task = make(gbasf2_lfn_sandboxfiles=True, gbasf2_additional_files=["/belle/user/me/file.py"])
    from b2core_gbasf2.project import sandbox_files

    assert sandbox_files(task) == ["/belle/user/me/file.py"]
    argv = submit_command(task, "proj", "s.py", sandbox_files(task))
    assert argv[argv.index("-f") + 1] == "/belle/user/me/file.py" and "--lfn_sandboxfiles" in argv


def test_input_dslist_is_made_absolute_and_checked(tmp_path: Path) -> None:
    dslist = tmp_path / "datasets.txt"
    dslist.write_text("/belle/MC/a\n")
    task = make(gbasf2_input_dataset=None, gbasf2_input_dslist=str(dslist))
    assert input_options(task) == ["--input_dslist", str(dslist)]
    with pytest.raises(SettingsError, match="missing file"):
        input_options(make(gbasf2_input_dataset=None, gbasf2_input_dslist=str(tmp_path / "none.txt")))
    with pytest.raises(SettingsError, match="both"):
        input_options(make(gbasf2_input_dslist=str(dslist)))
    with pytest.raises(SettingsError, match="no grid input"):
        input_options(make(gbasf2_input_dataset=None))
    assert input_options(make(gbasf2_input_dataset=None, gbasf2_n_repition_job=5)) == []
    with pytest.raises(SettingsError, match="white space"):
        input_options(make(gbasf2_input_dataset="/belle/a, /belle/b"))


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("gbasf2_priority", 11, "between 0 and 10"),
        ("gbasf2_input_grouping", "sites", "gbasf2_input_grouping"),
        ("gbasf2_additional_files", "one_file.py", "gbasf2_additional_files"),
        ("gbasf2_cputime", "long", "gbasf2_cputime"),
    ],
)
def test_wrong_option_values_fail_naming_the_setting(key: str, value: object, message: str) -> None:
    from b2core.plugins import plugin_manager

    plugin_manager()  # registers the gbasf2 settings model
    from b2core_gbasf2.project import sandbox_files

    task = make(**{key: value})
    with pytest.raises(SettingsError, match=message):
        submit_command(task, "proj", "s.py", sandbox_files(task))


# --- parsing the tools' output ---------------------------------------------------------------------


def test_job_status_table_of_the_real_tool_is_parsed() -> None:
    jobs = parse_job_status((RECORDED / "gb2_job_status.txt").read_text())
    assert [job.job_id for job in jobs] == [str(i) for i in range(161844659, 161844664)]
    assert jobs[2] == GridJob("161844661", "Running", "Input Data Resolution", "Unknown", "LCG.Pisa.it")
    assert all(not job.failed and not job.succeeded for job in jobs)


def test_no_jobs_means_no_project() -> None:
    assert parse_job_status("0 jobs are selected.\n") == []


def test_job_states() -> None:
    assert GridJob("1", "Done", "Execution Complete", "Done").succeeded
    appfail = GridJob("1", "Done", "Execution Complete", "Failed")
    assert appfail.failed and not appfail.reschedulable and not appfail.succeeded
    for state in ("Failed", "Killed", "Stalled"):
        assert GridJob("1", state).failed and GridJob("1", state).reschedulable
    assert GridJob("1", "Waiting").waiting and not GridJob("1", "Running").waiting


def test_proxy_info_of_the_real_tool_is_parsed() -> None:
    text = (RECORDED / "gb2_proxy_init.txt").read_text()
    assert parse_proxy_info(text) == (23 * 3600 + 53 * 60 + 57, "user")
    assert parse_proxy_info("nothing here") == (None, None)


def test_only_the_newest_reschedule_of_each_output_is_expected() -> None:
    lfns = [
        "/belle/user/u/p/sub00/B_ntuple_00000_job400000001_00.root",
        "/belle/user/u/p/sub00/B_ntuple_00000_job400000001_02.root",
        "/belle/user/u/p/sub00/B_ntuple_00000_job400000001_01.root",
        "/belle/user/u/p/sub00/B_ntuple_00001_job400000002_00.root",
        "/belle/user/u/p/sub00/skim_00001_job400000002_00.udst.root",
        "/belle/user/u/p/sub00/B_ntuple_3.root",
    ]
    assert unique_lfns(lfns) == [
        "/belle/user/u/p/sub00/B_ntuple_00000_job400000001_02.root",
        "/belle/user/u/p/sub00/B_ntuple_00001_job400000002_00.root",
        "/belle/user/u/p/sub00/B_ntuple_3.root",
        "/belle/user/u/p/sub00/skim_00001_job400000002_00.udst.root",
    ]


def test_gbasf2_is_never_auto_detected() -> None:
    detection = b2core_detect_backend()
    assert (detection.name, detection.available) == ("gbasf2", False)
    assert detection.detail == "gbasf2 is never auto-detected; set batch_system = 'gbasf2'"


# --- steering files --------------------------------------------------------------------------------


@pytest.fixture
def standin_basf2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the stand-in basf2 importable here and reset its global state around the test."""
    monkeypatch.syspath_prepend(str(BASF2_PYTHON))
    import basf2
    from variables import variables as vm

    vm.clearAliases()
    basf2.conditions.reset()
    yield
    vm.clearAliases()
    basf2.conditions.reset()
    basf2.logging.reset()


class PathTask(GridTask):
    def create_path(self):
        import basf2
        from variables import variables as vm

        vm.addAlias("myE", "E")
        basf2.conditions.globaltags = ["tag_a", "tag_b"]
        basf2.set_log_level(basf2.LogLevel.WARNING)
        path = basf2.create_path()
        path.add_module("VariablesToNtuple", fileName="out.root", variables=["myE"])
        return path


def test_pickled_path_runs_with_its_aliases_and_global_tags(tmp_path: Path, standin_basf2: None) -> None:
    import basf2

    task = PathTask()
    pickle_basf2_path(task, tmp_path / "serialized_basf2_path.pkl")
    state = pickle.loads((tmp_path / "serialized_basf2_path.pkl").read_bytes())
    assert state["aliases"] == {"myE": "E"} and state["globaltags"] == ["tag_a", "tag_b"]
    assert state["log_level"] == "WARNING"
    (tmp_path / "steering.py").write_text(render_steering_wrapper(task))
    env = {"PYTHONPATH": str(BASF2_PYTHON), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "basf2", "steering.py", "-n", "4"], cwd=tmp_path, env=env, check=True)
    content = basf2.read_fake_root(str(tmp_path / "out.root"))
    assert content["aliases"] == {"myE": "E"} and content["globaltags"] == ["tag_a", "tag_b"]
    assert content["events"] == 4


def test_max_event_is_rendered_into_the_steering_file() -> None:
    text = render_steering_wrapper(make(max_event=250), "my.pkl")
    assert "max_event=250" in text and 'open("my.pkl", "rb")' in text


def test_custom_template_without_jinja2_uses_string_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)  # as if jinja2 were not installed
    template = tmp_path / "template.py"
    template.write_text("PICKLE = '$pickle_file_path'\nEVENTS = $max_event\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = render_steering_wrapper(make(gbasf2_jinja_template_path=str(template), max_event=3))
    assert text == "PICKLE = 'serialized_basf2_path.pkl'\nEVENTS = 3\n"
    assert any("jinja2 is not installed" in str(w.message) for w in caught)
    template.write_text("EVENTS = {{ max_event }}\n")
    with pytest.raises(SettingsError, match="uses Jinja syntax"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        render_steering_wrapper(make(gbasf2_jinja_template_path=str(template)))


def test_custom_jinja_template_with_jinja2(tmp_path: Path) -> None:
    assert _has_jinja2(), "the gbasf2 tox environment installs b2core-gbasf2[jinja]; this test needs jinja2"
    template = tmp_path / "template.py"
    template.write_text("PICKLE = '{{ pickle_file_path }}'\nEVENTS = {{ max_event }}\n")
    text = render_steering_wrapper(make(gbasf2_jinja_template_path=str(template), max_event=3))
    assert text == "PICKLE = 'serialized_basf2_path.pkl'\nEVENTS = 3\n"


def test_missing_template_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="missing file"):
        render_steering_wrapper(make(gbasf2_jinja_template_path=str(tmp_path / "nope.tmpl")))


def _has_jinja2() -> bool:
    try:
        import jinja2  # noqa: F401
    except ImportError:
        return False
    return True


@each_batch_system_place
def test_group_without_lpn_path_in_settings_json_fails_once_at_start_naming_the_file(
    tmp_path: Path, on_class: bool
) -> None:
    """gbasf2_proxy_group other than belle without gbasf2_project_lpn_path in settings.json: one error, exit 2."""
    settings = {"batch_system": "gbasf2", "gbasf2_proxy_group": "b2core-group"}
    assert_fails_once_at_start(
        tmp_path, settings, "gbasf2_proxy_group", "needs gbasf2_project_lpn_path", on_class=on_class
    )
