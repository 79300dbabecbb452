"""Loading hook modules: a broken one is reported the same clear way by every entry point, and
B2CORE_DISABLE_PLUGIN_AUTOLOAD=1 skips third-party hook modules while the project's own still load."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

STEERING = """
import b2core as b2luigi

class Nothing(b2luigi.WrapperTask):
    pass

if __name__ == "__main__":
    b2luigi.process(Nothing())
"""

BROKEN = "The hook module b2core_example_backend.hooks of b2core-example-backend 0.1.0"


def b2core_command() -> list[str]:
    """The console script installed next to this interpreter."""
    return [str(Path(sys.executable).parent / "b2core")]


@pytest.mark.parametrize("how", ["steering script", "b2core run", "b2core plugins"])
def test_a_broken_hook_module_gets_the_same_clear_message_everywhere(example, how: str) -> None:
    """A misspelled hook in an installed plugin: one line naming module, distribution and hook; no traceback."""
    example.write(STEERING)
    env = {"EXAMPLE_MISSPELLED_HOOK": "1"}
    if how == "steering script":
        run = example.run(env=env)
    elif how == "b2core run":
        run = example.command([*b2core_command(), "run", "steering:Nothing"], env=env)
    else:
        run = example.command([*b2core_command(), "plugins"], env=env)
    assert run.returncode == (1 if how == "b2core plugins" else 2), run
    assert f"b2core: {BROKEN}" in run.stderr, run
    assert "b2core_detect_backends" in run.stderr and "pip uninstall b2core-example-backend" in run.stderr, run
    assert "Traceback" not in run.stderr, run


def test_disabling_autoload_skips_third_party_hooks_only(example, plugin_bin: Path) -> None:
    """First-party hooks (Slurm's detection) still answer; the example plugin's hook module is not imported.

    Needs b2core-slurm beside the example plugin, so the slurm tox env runs it (the core env has no first-party plugin).
    """
    pytest.importorskip("b2core_slurm", reason="needs b2core-slurm installed: the slurm tox env runs this test")
    env = {"B2CORE_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": f"{plugin_bin}:/usr/bin:/bin"}
    run = example.command([*b2core_command(), "plugins"], env=env)
    assert run.returncode == 0, run
    backends, hooks = run.stdout.split("Hook modules")
    rows = {line.split()[0]: line for line in backends.splitlines() if line.startswith("  ")}
    assert "priority 10" in rows["slurm"], "the first-party Slurm hook module was loaded and answered"
    assert "no detection hook" in rows["example"], "the third-party detection hook was not loaded"
    hook_rows = [line for line in hooks.splitlines() if "b2core_example_backend.hooks" in line]
    assert hook_rows and "skipped (B2CORE_DISABLE_PLUGIN_AUTOLOAD is set)" in hook_rows[0], run
    broken = example.command([*b2core_command(), "plugins"], env={**env, "EXAMPLE_MISSPELLED_HOOK": "1"})
    assert broken.returncode == 0, "a broken third-party hook module is not even imported"
