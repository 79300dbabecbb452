"""The flags every steering script understands (b2luigi-compatible)."""

from __future__ import annotations

import argparse


def parser() -> argparse.ArgumentParser:
    """The argument parser of a steering script calling process()."""
    p = argparse.ArgumentParser(description="Run this b2core workflow.")
    p.add_argument("--show-output", action="store_true", help="List every output file and whether it exists.")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="Show what would run; exit 1 if anything would, 0 if all is complete.",
    )
    p.add_argument("--test", action="store_true", help="Run everything in this process with debug logs.")
    p.add_argument("--batch", action="store_true", help="Run tasks on the batch system (setting batch_system).")
    p.add_argument("--batch-runner", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--task-id", default="", help=argparse.SUPPRESS)
    p.add_argument("--task-spec", default="", help=argparse.SUPPRESS)
    p.add_argument("--branch", type=int, default=None, help="Run only this branch of the workflow.")
    p.add_argument("--branches", default="", help="Run only these branches of the workflow, e.g. 0-9,20.")
    p.add_argument("--workers", type=int, default=None, help="How many tasks run (or jobs are in flight) at once.")
    p.add_argument("--scheduler-host", default=None, help="Use luigi's central scheduler on this host.")
    p.add_argument("--scheduler-port", type=int, default=0, help="Port of luigi's central scheduler.")
    p.add_argument("--remove", default="", help="Remove outputs of these task classes and of what depends on them.")
    p.add_argument("--remove-only", default="", help="Remove outputs of exactly these task classes.")
    p.add_argument("--keep", default="", help="Task classes whose outputs --remove keeps.")
    p.add_argument("-y", "--yes", action="store_true", help="Do not ask before removing outputs.")
    return p


def parse(argv: list[str] | None, ignore_unknown: bool) -> argparse.Namespace:
    """Parse flags; unknown ones are an error unless the script allows them."""
    if ignore_unknown:
        return parser().parse_known_args(argv)[0]
    return parser().parse_args(argv)
