"""What users see of settings sources: renamed settings warn visibly, environment strings stay strings."""

from __future__ import annotations

import b2core as b2luigi
import pytest
from b2core.errors import SettingsError

STEERING = """
import b2core as b2luigi

class Show(b2luigi.Task):
    def output(self):
        yield self.add_to_output("shown.txt")

    def run(self):
        values = [repr(b2luigi.get_setting(key)) for key in ("job_name", "max_resubmissions", "result_dir")]
        with open(self.get_output_file_name("shown.txt"), "w") as f:
            f.write(" ".join(values))

if __name__ == "__main__":
    b2luigi.process(Show())
"""


def test_a_renamed_setting_warns_where_users_see_it(workflow) -> None:
    """b2luigi's result_path still works and the run says, on stderr, that it is deprecated (no -W flag needed)."""
    workflow.write(STEERING.replace(', "result_dir")', ")"))  # only b2core itself reads result_dir
    workflow.write_json("settings.json", '{"result_path": "old_style"}')
    run = workflow.run()
    assert run.returncode == 0, run
    assert (workflow.path / "old_style" / "shown.txt").exists()
    assert "DeprecatedSettingsWarning: The setting 'result_path' is deprecated, use 'result_dir' instead" in run.stderr


def test_environment_values_that_look_like_json_stay_strings_for_string_settings(workflow) -> None:
    """B2CORE_JOB_NAME=2024 is the job name "2024"; numbers still parse for number settings."""
    workflow.write(STEERING)
    env = {"B2CORE_JOB_NAME": "2024", "B2CORE_MAX_RESUBMISSIONS": "2", "B2CORE_RESULT_DIR": "7"}
    run = workflow.run(env=env)
    assert run.returncode == 0, run
    assert (workflow.path / "7" / "shown.txt").read_text() == "'2024' 2 '7'"


def test_a_missing_named_settings_file_is_reported_under_the_variable_that_named_it(monkeypatch, tmp_path) -> None:
    """Only b2luigi's B2LUIGI_SETTINGS_JSON is set: the error says so, not B2CORE_SETTINGS_JSON."""
    monkeypatch.setenv("B2LUIGI_SETTINGS_JSON", str(tmp_path / "typo.json"))
    with pytest.raises(SettingsError, match=r"named by B2LUIGI_SETTINGS_JSON does not exist: .*typo\.json"):
        b2luigi.get_setting("some_key_of_mine", default=1)
