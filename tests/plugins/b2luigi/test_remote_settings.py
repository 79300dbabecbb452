"""b2luigi's remote-target settings (default_task_target_class, target_class_kwargs) through `import b2luigi`.

The shared remote scenario (tests/remote), with the steering script's `b2luigi` rebound to the
b2luigi package and the XRootD names taken from b2luigi's module path, against the real server.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "remote"))  # the shared scenarios
pytest.register_assert_rewrite("remote_scenarios")

from remote_scenarios import Protocol, check_number_average, flow, fs  # noqa: E402

__all__ = ["flow", "fs"]  # shared fixtures

IMPORTS = """
import b2luigi  # from here on the script uses the b2luigi package of b2core-b2luigi
from b2luigi.core.remote_target.xrootd import XRootDSystem as System, XRootDTarget as Target
"""


@pytest.fixture
def protocol(xrootd_server: str) -> Protocol:
    """Steering scripts' view of the real XRootD server, through b2luigi's module paths."""
    return Protocol(imports=IMPORTS, server=xrootd_server)


def test_remote_outputs_by_setting_in_an_unchanged_b2luigi_script(flow, fs) -> None:
    flow.write()
    assert "import b2luigi  #" in (flow.folder / "steering.py").read_text()
    check_number_average(flow, fs)
