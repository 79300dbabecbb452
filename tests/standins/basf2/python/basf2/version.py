"""Stand-in for ``basf2.version``."""

import os

#: what a real release would report; ``BELLE2_RELEASE`` (set on the stand-in grid) wins
STANDIN_VERSION = "release-08-02-00-b2core-standin"


def get_version() -> str:
    return os.environ.get("BELLE2_RELEASE") or STANDIN_VERSION


def get_release() -> str:
    return get_version()


version = STANDIN_VERSION
release = STANDIN_VERSION
