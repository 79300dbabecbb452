"""The scripted command runner offered to plugin authors' unit tests."""

from __future__ import annotations

import pytest
from b2core.errors import BatchCommandError
from b2core.testing import ScriptedRunner


def test_answers_in_order_records_argv_and_fails_like_the_real_runner() -> None:
    runner = ScriptedRunner({"mystat": [("1 R\n", "", 0), ("", "daemon down", 75)]})
    assert runner.run(["mystat", 1]).stdout == "1 R\n"
    with pytest.raises(BatchCommandError) as error:
        runner.run(["mystat", "1"])
    assert error.value.returncode == 75 and "daemon down" in str(error.value.stderr)
    assert runner.argvs == [["mystat", "1"], ["mystat", "1"]] and runner.calls["mystat"] == 2
    with pytest.raises(IndexError):
        runner.run(["mystat"])  # more commands than the test scripted


def test_check_false_returns_the_failure() -> None:
    runner = ScriptedRunner({"mydel": [("", "no such job", 1)]})
    assert runner.run(["mydel", "9"], check=False).returncode == 1
