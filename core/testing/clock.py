"""A clock for driving the batch engine in tests: "per poll interval" becomes exact, with no real waiting."""

from __future__ import annotations


class FakeClock:
    """Time that moves only when the test says so; pass it as BatchEngine(..., clock=clock)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        """The current fake time in seconds."""
        return self.now
