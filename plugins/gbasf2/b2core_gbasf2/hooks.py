"""The gbasf2 plugin's hooks: its settings, and a detection that never volunteers gbasf2 for "auto".

Imported at the start of every run, so it stays light (pydantic only).
"""

from __future__ import annotations

from b2core.hookspecs import Detection, hookimpl

from b2core_gbasf2.settings import Gbasf2Settings


@hookimpl
def b2core_detect_backend() -> Detection:
    """The grid only takes tasks written for it (create_path()), so "auto" must never pick it."""
    return Detection("gbasf2", available=False, detail="gbasf2 is never auto-detected; set batch_system = 'gbasf2'")


@hookimpl
def b2core_settings_models() -> list[type]:
    """Register the gbasf2_* settings so their types are checked wherever they come from."""
    return [Gbasf2Settings]
