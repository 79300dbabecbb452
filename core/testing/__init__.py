"""For plugin authors' tests: a recorded-output command runner and a fake clock (unit tests) and, in
`b2core.testing.conformance`, the backend conformance scenarios every batch plugin runs (needs pytest)."""

from b2core.testing.clock import FakeClock
from b2core.testing.scripted import ScriptedRunner

__all__ = ["FakeClock", "ScriptedRunner"]
