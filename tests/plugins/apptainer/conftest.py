"""A workflow folder per test with an (empty) image file and its own stand-in call log."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptainer_helpers import Workflow


@pytest.fixture
def workflow(tmp_path: Path) -> Workflow:
    """A fresh workflow folder; the image is an empty .sif (the stand-in only checks that it exists)."""
    root = tmp_path / "workflow"
    root.mkdir()
    flow = Workflow(root=root, state=tmp_path / "standin-state")
    flow.image.parent.mkdir()
    flow.image.write_bytes(b"")
    return flow
