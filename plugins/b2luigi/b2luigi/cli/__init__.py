"""b2luigi.cli: the command-line entry point."""

from b2luigi.cli import process

__all__ = ["process"]
