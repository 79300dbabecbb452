"""The settings this plugin adds; b2core type-checks them like its own."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ExampleSettings(BaseModel):
    """Settings of the example batch system."""

    example_queue: str = Field("default", description="Queue of the example batch system (exsub --queue).")
