"""A stand-in grid per test: its own state folder, a gbasf2 setup script bound to it, a valid proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gbasf2_helpers import Grid, control


@pytest.fixture
def grid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Grid]:
    """A fresh stand-in grid with a 24-hour proxy; stops its job runners afterwards."""
    state = tmp_path / "grid-state"
    state.mkdir()
    monkeypatch.setenv("B2CORE_STANDIN_DIR", str(state))
    setup = control.write_setup_script(tmp_path / "gbasf2_setup.sh", state)
    control.set_proxy(24 * 3600)
    workflow = tmp_path / "workflow"
    workflow.mkdir()
    yield Grid(root=workflow, state=state, setup=setup)
    control.stop_all_jobs()


@pytest.fixture
def fresh_grid_caches() -> Iterator[None]:
    """Forget environments and proxy checks cached by earlier in-process tests."""
    from b2core_gbasf2 import grid

    grid.clear_caches()
    yield
    grid.clear_caches()
