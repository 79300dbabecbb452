"""``python -m basf2``: stand-in of the ``basf2`` executable.

    python -m basf2 steering.py [-i INPUT]... [-n N] [-l LEVEL] [--dump-path FILE] [-- args]
    python -m basf2 --execute-path FILE [-i INPUT]... [-n N]

The steering file runs as ``__main__`` with ``sys.argv = [steering, *args]``.
"""

from __future__ import annotations

import argparse
import runpy
import sys

from . import _core
from .pickle_path import get_path_from_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="basf2", description="b2core stand-in of the basf2 executable")
    parser.add_argument("steering", nargs="?")
    parser.add_argument("-i", "--input", action="append", default=[])
    parser.add_argument("-n", "--events", type=int, default=0)
    parser.add_argument("-l", "--log_level")
    parser.add_argument("--dump-path")
    parser.add_argument("--execute-path")
    parser.add_argument("--version", action="store_true")
    args, rest = parser.parse_known_args(argv)
    if args.version:
        from .version import get_version

        print(f"basf2 {get_version()} (b2core stand-in)")
        return 0
    if rest and rest[0] == "--":
        rest = rest[1:]
    _core._cli.update(input_files=list(args.input), max_events=args.events, dump_path=args.dump_path)
    if args.log_level:
        _core.set_log_level(_core.LogLevel[args.log_level.upper()])
    if args.execute_path:
        _core.process(get_path_from_file(args.execute_path))
        return 0
    if not args.steering:
        parser.error("a steering file is required")
    sys.argv = [args.steering, *rest]
    runpy.run_path(args.steering, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
