"""The settings hierarchy, typed core settings and get_setting's b2luigi semantics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import b2core as b2luigi
import pytest
from b2core import settings_watch
from b2core.errors import SettingsError
from b2core.settings import DeprecatedSettingsWarning

KEY = "my_site_option"


def write_settings(folder: Path, **values: object) -> Path:
    """A settings.json in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "settings.json"
    path.write_text(json.dumps(values))
    return path


@pytest.fixture
def user_config(tmp_path: Path) -> Path:
    """The user-level settings folder (conftest points XDG_CONFIG_HOME into tmp_path)."""
    return Path(os.environ["XDG_CONFIG_HOME"]) / "b2core"


@pytest.fixture
def nested_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path/project/analysis, so settings.json files can sit at two levels above."""
    folder = tmp_path / "project" / "analysis"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder)
    return folder


class Plain(b2luigi.Task):
    """A task without settings of its own."""


class WithAttribute(b2luigi.Task):
    """A task attribute beats every other source."""

    my_site_option = "from the task"


class WithProperty(b2luigi.Task):
    """Settings may depend on parameters through properties."""

    size = b2luigi.IntParameter()

    @property
    def my_site_option(self) -> str:
        return f"size {self.size}"


LEVELS = ("task", "set_setting", "env", "cwd", "parent", "user")


class EveryLevel(b2luigi.Task):
    """Defines the top-level key as a task attribute."""

    level_task = "task"


def test_each_level_wins_over_the_ones_below(
    nested_cwd: Path, user_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """task attribute > set_setting > B2CORE_ env > settings.json (cwd upwards) > user config > default.

    Key level_<x> is defined at level x and every level below it, so it must resolve to x.
    """

    def keys_from(level: str) -> dict[str, str]:
        return {f"level_{top}": level for top in LEVELS[: LEVELS.index(level) + 1]}

    write_settings(user_config, **keys_from("user"))
    write_settings(nested_cwd.parent, **keys_from("parent"))
    write_settings(nested_cwd, **keys_from("cwd"))
    for key, value in keys_from("env").items():
        monkeypatch.setenv(f"B2CORE_{key.upper()}", value)
    for key, value in keys_from("set_setting").items():
        b2luigi.set_setting(key, value)
    task = EveryLevel()
    for level in LEVELS:
        assert b2luigi.get_setting(f"level_{level}", task=task) == level
    assert b2luigi.get_setting("level_task") == "set_setting"  # without task=, attributes do not count
    assert b2luigi.get_setting("level_default", default="default", task=task) == "default"
    b2luigi.clear_setting("level_set_setting")
    b2luigi.clear_setting("level_set_setting")  # clearing twice is fine
    assert b2luigi.get_setting("level_set_setting") == "env"


def test_properties_give_parameter_dependent_settings() -> None:
    """A property on the task is a setting that may depend on parameters."""
    b2luigi.set_setting(KEY, "global")
    assert b2luigi.get_setting(KEY, task=WithProperty(size=3)) == "size 3"
    assert b2luigi.get_setting(KEY, task=WithAttribute()) == "from the task"
    assert b2luigi.get_setting(KEY, task=Plain()) == "global"


def test_nearer_settings_file_falls_through_to_parent_for_missing_keys(nested_cwd: Path) -> None:
    """Each key is looked up file by file, nearest first."""
    write_settings(nested_cwd.parent, my_site_option="parent", other_option=1)
    write_settings(nested_cwd, other_option=2)
    assert b2luigi.get_setting(KEY) == "parent"
    assert b2luigi.get_setting("other_option") == 2


def test_settings_file_named_by_environment_replaces_the_search(
    nested_cwd: Path, tmp_path: Path, user_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B2CORE_SETTINGS_JSON names the one project file; the user config still applies below it."""
    write_settings(nested_cwd, my_site_option="cwd", only_in_cwd=True)
    named = write_settings(tmp_path / "elsewhere", my_site_option="named")
    write_settings(user_config, only_in_user=True)
    monkeypatch.setenv("B2CORE_SETTINGS_JSON", str(named))
    assert b2luigi.get_setting(KEY) == "named"
    assert b2luigi.get_setting("only_in_cwd", default="absent") == "absent"
    assert b2luigi.get_setting("only_in_user") is True


def test_named_settings_file_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A typo in the variable is an error, not a silent fallback."""
    monkeypatch.setenv("B2CORE_SETTINGS_JSON", str(tmp_path / "nope.json"))
    with pytest.raises(SettingsError, match=r"nope\.json"):
        b2luigi.get_setting(KEY, default=1)


def test_environment_values_are_json_when_they_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """B2CORE_ variables carry lists, numbers and dicts as JSON, anything else as text."""
    monkeypatch.setenv("B2CORE_EXECUTABLE_PREFIX", '["nice", "-n", "5"]')
    monkeypatch.setenv("B2CORE_MAX_RESUBMISSIONS", "2")
    monkeypatch.setenv("B2CORE_JOB_NAME", "plain words")
    assert b2luigi.get_setting("executable_prefix") == ["nice", "-n", "5"]
    assert b2luigi.get_setting("max_resubmissions") == 2
    assert b2luigi.get_setting("job_name") == "plain words"


def test_core_defaults_come_from_the_typed_model() -> None:
    """Known settings have defaults even without default=; b2luigi's defaults are kept."""
    for name in ("result_dir", "log_dir", "task_file_dir"):
        b2luigi.clear_setting(name)
    assert b2luigi.get_setting("result_dir") == "."
    assert b2luigi.get_setting("log_dir") == "logs"
    assert b2luigi.get_setting("parameter_separator") == "="
    assert b2luigi.get_setting("batch_system") == "auto"
    assert b2luigi.get_setting("max_resubmissions") == 0
    assert b2luigi.get_setting("use_parameter_name_in_output") is True


def test_get_setting_without_default_means_required() -> None:
    """As in b2luigi: no default, or default=None, raises for an unknown unset key; other defaults return."""
    with pytest.raises(ValueError, match="No settings found for not_configured_anywhere"):
        b2luigi.get_setting("not_configured_anywhere")
    with pytest.raises(ValueError, match="No settings found"):
        b2luigi.get_setting("not_configured_anywhere", default=None)
    assert b2luigi.get_setting("not_configured_anywhere", default=0) == 0
    assert b2luigi.get_setting("not_configured_anywhere", default=False) is False


def test_deprecated_keys_warn_and_are_used(nested_cwd: Path) -> None:
    """An old name still works but warns."""
    write_settings(nested_cwd, log_folder="old_logs")
    b2luigi.clear_setting("log_dir")
    with pytest.warns(DeprecatedSettingsWarning, match="log_folder"):
        assert b2luigi.get_setting("log_dir", deprecated_keys=["log_folder"]) == "old_logs"


def test_deprecated_result_path_still_places_results(nested_cwd: Path, tmp_path: Path) -> None:
    """b2luigi users' settings.json with result_path keeps working, with a deprecation warning."""
    write_settings(nested_cwd, result_path=str(tmp_path / "old_results"))
    b2luigi.clear_setting("result_dir")

    class OldStyle(b2luigi.Task):
        def output(self):
            yield self.add_to_output("out.txt")

    with pytest.warns(DeprecatedSettingsWarning, match="result_path"):
        path = OldStyle().get_output_file_name("out.txt")
    assert path == str(tmp_path / "old_results" / "out.txt")


def test_merged_dict_settings_never_change_the_shared_value() -> None:
    """Per-system option dicts: global updated by the task's own, in a new dict (reference bug #12)."""
    from b2core.settings import get_merged_dict

    site_wide = {"partition": "short", "mem": "1G"}
    b2luigi.set_setting("slurm_settings", site_wide)

    class Big(b2luigi.Task):
        slurm_settings = {"mem": "8G"}

    merged = get_merged_dict("slurm_settings", task=Big())
    assert merged == {"partition": "short", "mem": "8G"}
    merged["job-name"] = "leak"
    assert b2luigi.get_setting("slurm_settings") == {"partition": "short", "mem": "1G"}
    assert get_merged_dict("slurm_settings", task=Plain()) == {"partition": "short", "mem": "1G"}


def test_parameter_named_like_a_setting_gives_its_value() -> None:
    """A luigi parameter of the same name is a task attribute too."""

    class Configurable(b2luigi.Task):
        job_name = b2luigi.Parameter()

    assert b2luigi.get_setting("job_name", task=Configurable(job_name="mine")) == "mine"


def test_attribute_error_inside_a_setting_property_propagates() -> None:
    """A broken property is reported, not taken for "no setting"."""

    class Broken(b2luigi.Task):
        @property
        def my_site_option(self) -> str:
            raise AttributeError("broken property")

    with pytest.raises(AttributeError, match="broken property"):
        b2luigi.get_setting(KEY, task=Broken())


def test_wrong_type_from_set_setting_names_setting_and_source() -> None:
    """Typed settings are checked when they are set."""
    with pytest.raises(SettingsError, match=r"'poll_interval' from set_setting\(\)"):
        b2luigi.set_setting("poll_interval", "fast")
    with pytest.raises(SettingsError, match="max_resubmissions"):
        b2luigi.set_setting("max_resubmissions", -1)


def test_every_field_constraint_of_a_plugin_model_is_checked() -> None:
    """Upper bounds and patterns too, not only lower bounds: a plugin's model is enforced as written."""
    from b2core.settings_models import register_settings_model
    from pydantic import BaseModel, Field

    class SiteSettings(BaseModel):
        site_slots: int = Field(4, ge=1, le=64)
        site_account: str = Field("physics", pattern=r"^[a-z]+$")

    register_settings_model(SiteSettings)
    b2luigi.set_setting("site_slots", 64)
    with pytest.raises(SettingsError, match=r"'site_slots' from set_setting\(\).*less than or equal to 64.*Site"):
        b2luigi.set_setting("site_slots", 65)
    with pytest.raises(SettingsError, match=r"'site_account'.*pattern"):
        b2luigi.set_setting("site_account", "Physics; rm -rf")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("poll_interval", "soon"),
        ("env", "not a dict"),
        ("executable", "python3"),
        ("cancel_jobs_on_interrupt", "maybe"),
    ],
)
def test_wrong_type_from_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch, key: str, value: str) -> None:
    """A B2CORE_ variable of the wrong type fails naming the variable."""
    monkeypatch.setenv(f"B2CORE_{key.upper()}", value)
    with pytest.raises(SettingsError, match=f"'{key}' from environment variable B2CORE_{key.upper()}"):
        b2luigi.get_setting(key)


def test_wrong_type_from_files_and_task_attributes_names_them(nested_cwd: Path, user_config: Path) -> None:
    """The file path or the task attribute is named."""
    path = write_settings(nested_cwd, max_resubmissions="many")
    with pytest.raises(SettingsError, match=f"'max_resubmissions' from {path}"):
        b2luigi.get_setting("max_resubmissions")
    user = write_settings(user_config, shell=["bash"])
    with pytest.raises(SettingsError, match=f"'shell' from {user}"):
        b2luigi.get_setting("shell")

    class BadTask(b2luigi.Task):
        poll_interval = "often"

    with pytest.raises(SettingsError, match="attribute 'poll_interval' of task BadTask"):
        b2luigi.get_setting("poll_interval", task=BadTask())


def test_invalid_json_names_the_file(nested_cwd: Path) -> None:
    """A syntax error in settings.json is reported with its path."""
    (nested_cwd / "settings.json").write_text("{not json")
    with pytest.raises(SettingsError, match=r"settings\.json is not valid JSON"):
        b2luigi.get_setting(KEY, default=1)


def test_with_new_settings_isolates_set_setting() -> None:
    """The test helper gives an empty set_setting layer and restores the old one."""
    b2luigi.set_setting(KEY, "outer")
    with b2luigi.with_new_settings():
        assert b2luigi.get_setting(KEY, default="none") == "none"
    assert b2luigi.get_setting(KEY) == "outer"


STEERING = """
import b2core as b2luigi

class Job(b2luigi.Task):
    def output(self):
        yield self.add_to_output("out.txt")

    def run(self):
        with open(self.get_output_file_name("out.txt"), "w") as f:
            f.write(b2luigi.get_setting("my_site_option", default="unset", task=self))

if __name__ == "__main__":
    b2luigi.process(Job())
"""


def test_settings_reach_a_real_run_from_cwd_file_and_user_config(workflow, tmp_path: Path) -> None:
    """A steering script finds settings.json in its working directory and the user config file."""
    workflow.write(STEERING)
    user = Path(os.environ["XDG_CONFIG_HOME"]) / "b2core"
    write_settings(user, result_dir="from_user_config", my_site_option="user")
    run = workflow.run()
    assert run.returncode == 0, run
    assert (workflow.path / "from_user_config" / "out.txt").read_text() == "user"
    write_settings(workflow.path, result_dir="from_settings_json", my_site_option="project")
    run = workflow.run()
    assert run.returncode == 0, run
    assert (workflow.path / "from_settings_json" / "out.txt").read_text() == "project"


def test_wrong_setting_type_fails_at_start_of_a_real_run(workflow) -> None:
    """Nothing runs; the error names the setting and the file it came from."""
    workflow.write(STEERING)
    path = write_settings(workflow.path, poll_interval="soon")
    run = workflow.run()
    assert run.returncode != 0, run
    assert "poll_interval" in run.stderr and str(path) in run.stderr, run
    assert workflow.files() == {"steering.py", "settings.json"}
    path.write_text(json.dumps({"max_resubmissions": 1}))
    run = workflow.run(env={"B2CORE_SHOW_PROGRESS": "sometimes"})
    assert run.returncode != 0, run
    assert "show_progress" in run.stderr and "B2CORE_SHOW_PROGRESS" in run.stderr, run
    assert not (workflow.path / "out.txt").exists()


def test_merged_dict_settings_are_typed_per_source() -> None:
    """A per-system options dict of the wrong shape names the task attribute it came from."""
    from b2core.settings import get_merged_dict
    from b2core.settings_models import register_settings_model
    from pydantic import BaseModel, Field

    class Farm(BaseModel):
        farm_options: dict[str, int] = Field(default_factory=dict)

    register_settings_model(Farm)
    b2luigi.set_setting("farm_options", {"cores": 1})

    class Greedy(b2luigi.Task):
        farm_options = {"cores": "all of them"}

    with pytest.raises(SettingsError, match="'farm_options' from attribute 'farm_options' of task Greedy"):
        get_merged_dict("farm_options", task=Greedy())


@pytest.mark.parametrize("watch", ["inotify", "stat"])
def test_settings_files_created_changed_or_removed_are_seen_by_the_very_next_lookup(
    nested_cwd: Path, user_config: Path, monkeypatch: pytest.MonkeyPatch, watch: str
) -> None:
    """No delay: each change of a settings.json, at any level of the search path, shows at once.

    Both ways of watching: inotify (Linux) and one stat() per folder (elsewhere, or without inotify).
    """
    if watch == "stat":
        monkeypatch.setattr(settings_watch, "_libc_handle", [None])
    assert b2luigi.get_setting(KEY, default="none") == "none"
    parent = write_settings(nested_cwd.parent, **{KEY: "parent"})
    assert b2luigi.get_setting(KEY) == "parent"
    write_settings(user_config, other="user")  # a folder that did not exist yet
    assert b2luigi.get_setting("other") == "user"
    nearest = write_settings(nested_cwd, **{KEY: "nearest"})
    assert b2luigi.get_setting(KEY) == "nearest"
    for value in ("edited", "edit2"):  # rewritten in place, same size, right after the last read
        with open(nearest, "r+") as f:
            f.write(json.dumps({KEY: value}))
            f.truncate()
        assert b2luigi.get_setting(KEY) == value
    nearest.unlink()
    assert b2luigi.get_setting(KEY) == "parent"
    parent.rename(nested_cwd.parent / "settings.json.off")
    assert b2luigi.get_setting(KEY, default="none") == "none"


def test_a_settings_file_that_is_a_directory_fails_at_start_naming_it(workflow) -> None:
    """settings.json is a folder: exit 2 with the path and what to do, no traceback, nothing run."""
    (workflow.path / "settings.json").mkdir()
    workflow.write(STEERING)
    run = workflow.run()
    assert run.returncode == 2, run
    assert f"The settings file {workflow.path / 'settings.json'} is a directory" in run.stderr, run
    assert "Traceback" not in run.stderr and not (workflow.path / "out.txt").exists(), run


def test_an_unreadable_settings_file_fails_at_start_naming_it(unprivileged) -> None:
    """A settings.json the user may not read: exit 2 naming the file and the cause."""
    folder = unprivileged.folder
    (folder / "steering.py").write_text(textwrap.dedent(STEERING))
    (folder / "steering.py").chmod(0o644)
    (folder / "settings.json").write_text("{}")
    (folder / "settings.json").chmod(0o000)
    command = unprivileged.argv(sys.executable, str(folder / "steering.py"))
    run = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run
    assert f"The settings file {folder / 'settings.json'} cannot be read (Permission denied)" in run.stderr, run
    assert "Traceback" not in run.stderr, run


def test_a_misspelt_setting_in_a_settings_file_warns_once_with_a_suggestion(workflow) -> None:
    """resul_dir in settings.json: one warning naming the file and result_dir; the workflow's own names stay silent."""
    path = write_settings(workflow.path, resul_dir="elsewhere", my_site_option="project")
    workflow.write(STEERING)
    run = workflow.run()
    assert run.returncode == 0, run
    warning = f"Unknown setting 'resul_dir' in {path}: did you mean 'result_dir'?"
    assert run.stderr.count(warning) == 1, run
    assert "my_site_option" not in run.stderr, run


def test_an_unknown_setting_with_a_b2core_prefix_warns_once_and_own_settings_stay_silent(workflow) -> None:
    """b2core_shuffle_order is no setting and close to none, but its prefix is b2core's: one warning naming
    the file; my_site_option (the workflow's own, read with get_setting) stays silent."""
    path = write_settings(workflow.path, b2core_shuffle_order=True, my_site_option="project")
    workflow.write(STEERING)
    run = workflow.run()
    assert run.returncode == 0, run
    warning = f"Unknown setting 'b2core_shuffle_order' in {path}: no setting of b2core or its plugins has this name"
    assert run.stderr.count(warning) == 1, run
    assert "give your own settings another prefix" in run.stderr, run
    assert "my_site_option" not in run.stderr, run


SETTING_DURING_A_RUN = """
import b2core as b2luigi


class Later(b2luigi.Task):
    def output(self):
        yield self.add_to_output("later.txt")

    def run(self):
        with open(self.get_output_file_name("later.txt"), "w") as f:
            f.write("later")


class OwnFolder(Later):
    result_dir = "own"


class First(b2luigi.Task):
    def output(self):
        yield self.add_to_output("first.txt")

    def run(self):
        b2luigi.set_setting("result_dir", "moved")
        yield [Later(), OwnFolder()]  # asked for the first time only now
        with open(self.get_output_file_name("first.txt"), "w") as f:
            f.write("first")


if __name__ == "__main__":
    b2luigi.process(First())
"""


def test_set_setting_during_a_run_names_the_outputs_asked_for_after_it(workflow) -> None:
    """A worker run resolves the settings that name outputs once, yet set_setting applies at once, and a
    task class's own result_dir is still its own; outputs asked for before keep their paths."""
    workflow.write(SETTING_DURING_A_RUN)
    run = workflow.run()
    assert run.returncode == 0, run
    assert (workflow.path / "first.txt").read_text() == "first"
    assert (workflow.path / "moved" / "later.txt").read_text() == "later"
    assert (workflow.path / "own" / "later.txt").read_text() == "later"


def test_fixed_settings_fixes_its_keys_and_a_wider_block_inside_fixes_every_key(nested_cwd: Path) -> None:
    """fixed_settings(keys) answers those keys once while other keys follow the files at once; a
    fixed_settings() inside fixes every key until it ends; set_setting applies at once in both."""
    from b2core.settings import fixed_settings

    def answers(task: Any = None) -> tuple[str, str]:
        return b2luigi.get_setting("my_site_option", task=task), b2luigi.get_setting("my_other_option", task=task)

    write_settings(nested_cwd, my_site_option="a", my_other_option="a")
    with fixed_settings(["my_site_option"]):
        assert answers(Plain()) == ("a", "a")
        write_settings(nested_cwd, my_site_option="b", my_other_option="b")
        assert answers(Plain()) == ("a", "b")
        assert answers(WithAttribute()) == ("from the task", "b")
        with fixed_settings():
            assert answers() == ("a", "b")
            write_settings(nested_cwd, my_site_option="c", my_other_option="c")
            assert answers() == ("a", "b")
            b2luigi.set_setting("my_other_option", "set")
            assert answers() == ("c", "set")
        write_settings(nested_cwd, my_site_option="d", my_other_option="d")
        assert answers() == ("c", "set")
        b2luigi.clear_setting("my_other_option")
        assert answers() == ("d", "d")
    assert answers() == ("d", "d")


def test_remembered_answers_follow_every_layer_at_the_next_lookup(
    nested_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers are reused between lookups; each change of any layer still shows at once."""
    task = Plain()
    seen = []

    def lookup() -> None:
        seen.append((b2luigi.get_setting(KEY, default="none"), b2luigi.get_setting(KEY, task=task, default="none")))

    lookup()
    write_settings(nested_cwd, **{KEY: "file"})
    lookup()
    monkeypatch.setenv(f"B2CORE_{KEY.upper()}", "env")
    lookup()
    b2luigi.set_setting(KEY, "set")
    lookup()
    monkeypatch.setattr(Plain, KEY, "class", raising=False)
    lookup()
    b2luigi.clear_setting(KEY)
    lookup()
    monkeypatch.delenv(f"B2CORE_{KEY.upper()}")
    lookup()
    assert seen == [
        ("none", "none"),
        ("file", "file"),
        ("env", "env"),
        ("set", "set"),
        ("set", "class"),
        ("env", "class"),
        ("file", "class"),
    ]
