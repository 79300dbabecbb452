"""Plugin mechanics: entry-point backends loaded on demand, `auto`, unknown names, hook validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import b2core
import pluggy
import pytest
from b2core import hookspecs, plugins
from b2core.errors import BackendError
from b2core.hookspecs import Detection


def modules_after(code: str, folder: Path, env: dict[str, str] | None = None) -> dict[str, bool]:
    """Run code as a script in a fresh interpreter; report which backend and hook modules it imported."""
    probe = textwrap.dedent(
        """
        import json, sys
        from importlib import metadata
        groups = ("b2core.batch_systems", "b2core.plugins")
        modules = {ep.module for g in groups for ep in metadata.entry_points(group=g)}
        print("MODULES=" + json.dumps({m: m in sys.modules for m in sorted(modules)}))
        """
    )
    script = folder / "probe.py"
    script.write_text(textwrap.dedent(code) + probe)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=folder, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("MODULES="))
    return json.loads(line.removeprefix("MODULES="))


def test_importing_b2core_imports_no_plugin_module(example_backend: Path, tmp_path: Path) -> None:
    """`import b2core` loads neither backends nor hook modules of any installed plugin."""
    loaded = modules_after("import b2core as b2luigi\nb2luigi.Task\n", tmp_path)
    assert "b2core_example_backend.backend" in loaded and "b2core_example_backend.hooks" in loaded
    assert [m for m, imported in loaded.items() if imported] == []


RUN_ON = """
import os, sys
import b2core as b2luigi

class One(b2luigi.Task):
    def output(self):
        yield self.add_to_output("one.txt")

    def run(self):
        with open(self.get_output_file_name("one.txt"), "w") as f:
            f.write("1")

b2luigi.set_setting("batch_system", os.environ["BACKEND"])
b2luigi.process(One(), batch=True)
"""


@pytest.mark.parametrize("backend", ["local", "example"])
def test_a_run_loads_only_the_backend_it_asks_for(example, backend: str) -> None:
    """stevedore imports the requested backend's module; every other backend module stays unimported."""
    loaded = modules_after(RUN_ON, example.path, env=example.environment({"BACKEND": backend}))
    wanted = {"local": "b2core.batch.builtin", "example": "b2core_example_backend.backend"}[backend]
    assert (example.path / "one.txt").read_text() == "1"
    backends = {m: imported for m, imported in loaded.items() if not m.endswith(".hooks")}
    assert backends[wanted]
    assert [m for m, imported in backends.items() if imported and m != wanted] == []


def test_unknown_backend_lists_installed_ones_and_the_pip_hint(example_backend: Path) -> None:
    """The error names the value, every installed backend (third-party ones included) and the install command."""
    with pytest.raises(BackendError) as error:
        plugins.backend_class("nosuchsystem")
    message = str(error.value)
    assert "nosuchsystem" in message and "pip install b2core-nosuchsystem" in message
    for name in ("local", "test", "example"):
        assert name in message


def test_unknown_backend_fails_a_real_run_with_that_message(example) -> None:
    """Through the command line: non-zero exit, the message reaches the user, nothing is submitted."""
    example.write(RUN_ON)
    run = example.run(env={"BACKEND": "nosuchsystem"})
    assert run.returncode != 0, run
    assert "Unknown batch_system 'nosuchsystem'" in run.output, run
    assert "pip install b2core-nosuchsystem" in run.output and "example" in run.output
    assert not (example.path / "one.txt").exists()


class FakeDetector:
    """A hook module stand-in that answers the detection hook."""

    def __init__(self, name: str, available: bool, priority: int) -> None:
        self.answer = Detection(name, available, priority, f"{name} detail")

    @b2core.hookimpl
    def b2core_detect_backend(self) -> Detection:
        """Report the configured answer."""
        return self.answer


@pytest.fixture
def only_these_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[pluggy.PluginManager]:
    """A plugin manager with b2core's hookspecs and no installed plugin, for plugins registered by the test."""
    manager = pluggy.PluginManager("b2core")
    manager.add_hookspecs(hookspecs)
    monkeypatch.setattr(plugins, "plugin_manager", lambda: manager)
    plugins.resolve_auto.cache_clear()
    yield manager
    plugins.resolve_auto.cache_clear()


def test_auto_picks_the_available_backend_with_the_highest_priority(only_these_plugins) -> None:
    """Unavailable backends are skipped however high their priority."""
    for answer in [("lowsys", True, 1), ("highsys", True, 20), ("bestbutabsent", False, 99), ("midsys", True, 10)]:
        only_these_plugins.register(FakeDetector(*answer))
    assert [d.name for d in plugins.detections()] == ["bestbutabsent", "highsys", "midsys", "lowsys"]
    assert plugins.resolve_auto() == "highsys"


def test_auto_fails_loudly_when_nothing_is_available(only_these_plugins) -> None:
    """No silent local run: the error lists what was checked and how to fix it; fallback only when configured."""
    only_these_plugins.register(FakeDetector("absentsys", False, 10))
    with pytest.raises(BackendError) as error:
        plugins.resolve_auto()
    assert "absentsys detail" in str(error.value) and "auto_fallback_to_local" in str(error.value)
    plugins.resolve_auto.cache_clear()
    b2core.set_setting("auto_fallback_to_local", True)
    assert plugins.resolve_auto() == "local"


def test_auto_is_decided_once_per_run_even_when_it_fails(only_these_plugins) -> None:
    """A batch system that comes up mid-run must not get some tasks while the others already failed."""
    flaky = FakeDetector("flakysys", False, 10)
    only_these_plugins.register(flaky)
    with pytest.raises(BackendError, match="flakysys detail"):
        plugins.resolve_auto()
    flaky.answer = Detection("flakysys", True, 10, "up again")
    with pytest.raises(BackendError, match="flakysys detail"):
        plugins.resolve_auto()
    plugins.resolve_auto.cache_clear()  # a new run asks again
    assert plugins.resolve_auto() == "flakysys"


def test_auto_runs_on_the_detected_third_party_backend(example, queue) -> None:
    """With exstat on PATH (and the example ranked first), `auto` sends the tasks to the example queue."""
    example.write(RUN_ON)
    run = example.run(env={"BACKEND": "auto", "EXAMPLE_BACKEND_PRIORITY": "1000"})
    assert run.returncode == 0, run
    assert len(queue.jobs()) == 1
    assert (example.path / "one.txt").read_text() == "1"


def test_misspelled_hook_in_an_installed_plugin_is_rejected_at_registration(example_backend: Path) -> None:
    """A hook module with a typo in a hook name makes plugin loading fail, naming the hook."""
    code = "from b2core.plugins import plugin_manager\nplugin_manager()\n"
    env = {**os.environ, "EXAMPLE_MISSPELLED_HOOK": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode != 0
    assert "PluginValidationError" in result.stderr and "b2core_detect_backends" in result.stderr, result.stderr
    fine = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert fine.returncode == 0, fine.stderr


def test_hook_with_unknown_argument_is_rejected_when_registered() -> None:
    """pluggy checks hook arguments against the documented specs in b2core.hookspecs."""
    manager = pluggy.PluginManager("b2core")
    manager.add_hookspecs(hookspecs)

    class WrongArgument:
        @b2core.hookimpl
        def b2core_job_submitted(self, task_id: str, no_such_argument: str) -> None:
            """Asks for an argument the spec does not have."""

    with pytest.raises(pluggy.PluginValidationError, match="no_such_argument"):
        manager.register(WrongArgument())

    class Fine:
        @b2core.hookimpl
        def b2core_job_submitted(self, task_id: str) -> None:
            """May take fewer arguments than the spec lists."""

    manager.register(Fine())
    manager.check_pending()


WHOLE = """
import b2core as b2luigi

class Part(b2luigi.Task):
    n = b2luigi.IntParameter()
    batch_system = "example"

    def output(self):
        yield self.add_to_output("part.txt")

    def run(self):
        with open(self.get_output_file_name("part.txt"), "w") as f:
            f.write(str(self.n))

class Whole(b2luigi.WrapperTask):
    def requires(self):
        for n in range(3):
            yield Part(n=n)

if __name__ == "__main__":
    b2luigi.process(Whole(), workers=3, batch=True)
"""


def test_unknown_backend_fails_at_start_once(example) -> None:
    """Like a wrong setting type: one error before anything is scheduled, exit code 2."""
    example.write(WHOLE.replace('batch_system = "example"', "pass"))
    run = example.run(env={"B2CORE_BATCH_SYSTEM": "nosuchsystem"})
    assert run.returncode == 2, run
    assert run.output.count("Unknown batch_system 'nosuchsystem'") == 1, run
    assert "Scheduled" not in run.output


def test_plugin_settings_are_typed_by_the_plugins_model(example, queue) -> None:
    """A plugin's setting of the wrong type fails its tasks naming the setting, the source and the model."""
    example.write(WHOLE)
    settings = example.write_json("settings.json", '{"example_queue": 5}')
    run = example.run()
    assert run.returncode != 0, run
    assert f"Setting 'example_queue' from {settings}" in run.output and "ExampleSettings" in run.output, run
    assert queue.jobs() == []


def test_plugin_setting_of_wrong_type_fails_at_start(example, queue) -> None:
    """Like a core setting: one error before anything runs, exit code 2. (From the environment a string
    setting takes any text, so the wrong type comes from a task attribute here.)"""
    example.write(WHOLE.replace('batch_system = "example"', 'batch_system = "example"\n    example_queue = ["a", "b"]'))
    run = example.run()
    assert run.returncode == 2, run
    assert run.output.count("Setting 'example_queue' from attribute 'example_queue' of task Part") == 1, run
    assert "Scheduled" not in run.output and queue.jobs() == []


class RunSettingPlugin:
    """A plugin that wants its setting read once per run."""

    @b2core.hookimpl
    def b2core_run_settings(self) -> list[str]:
        """The setting the tasks below ask for."""
        return ["my_run_option"]


def test_a_plugins_run_setting_is_read_once_per_run_and_other_settings_follow_the_file(
    only_these_plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first task edits settings.json: the second still sees the run setting it started with, but the
    new value of an ordinary setting; the next run sees both edits."""
    only_these_plugins.register(RunSettingPlugin())
    monkeypatch.chdir(tmp_path)
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"my_run_option": "old", "my_other_option": "old"}))
    b2core.set_setting("result_dir", str(tmp_path / "results"))

    class Seen(b2core.Task):
        step = b2core.IntParameter()

        def requires(self):
            if self.step > 0:
                yield Seen(step=self.step - 1)

        def output(self):
            yield self.add_to_output("seen.txt")

        def run(self):
            seen = f"{b2core.get_setting('my_run_option')} {b2core.get_setting('my_other_option')}"
            with open(self.get_output_file_name("seen.txt"), "w") as f:
                f.write(seen)
            if self.step == 0:
                settings.write_text(json.dumps({"my_run_option": "new", "my_other_option": "new"}))

    b2core.process(Seen(step=1), argv=[], workers=1)
    b2core.process(Seen(step=2), argv=[], workers=1)

    seen = [Path(Seen(step=step).get_output_file_name("seen.txt")).read_text() for step in range(3)]
    assert seen == ["old old", "old new", "new new"]
