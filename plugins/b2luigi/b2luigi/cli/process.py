"""b2luigi.cli.process: the steering entry point."""

from b2core.cli.process import process

__all__ = ["process"]
